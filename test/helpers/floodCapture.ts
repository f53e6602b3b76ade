/**
 * The flood captures of the reliability tests, written by bench/synth.js (the repository's one capture generator;
 * bench/flood.js uses the same flood): every packet a connection of its own, from 10.x.y.z:1024-1279 to
 * 10.99.0.1:80, 10 µs apart. `syn` (default): bare SYNs; `ack`: bare ACKs; `data`: PSH+ACK with 100 payload bytes.
 */
export { writeFlood } from '../../bench/synth';
