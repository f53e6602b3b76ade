/**
 * Size limits that separate a damaged capture from a big one. A length beyond them is treated as
 * damage (the file stops there) instead of growing the read buffer to whatever a corrupt header says.
 */

/**
 * Largest captured length accepted for one packet: Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD.
 * Real frames go well past 64 KiB (a BIG TCP frame in the test set is 80066 bytes), fuzzed headers
 * claim 0xFFFFFFFF.
 */
export const MAX_CAPTURED_LENGTH = 262144;

/**
 * Largest pcapng block accepted (any type, e.g. a name-resolution block). Bounds the read buffer:
 * a block must fit in it whole.
 */
export const MAX_BLOCK_LENGTH = 16 * 1024 * 1024;
