import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { OnnxFormatError, readOnnxMetadata } from '../../src/classify/onnxMetadata';

const MODELS = path.resolve(__dirname, '../fixtures/model');

/** Protobuf bytes: tag = field << 3 | wire type; strings are length-prefixed. */
function entry(key: string, value: string): number[] {
  const k = [...Buffer.from(key)];
  const v = [...Buffer.from(value)];
  const body = [0x0a, k.length, ...k, 0x12, v.length, ...v];
  return [0x72, body.length, ...body]; // field 14, wire type 2
}
const IR_VERSION_8 = [0x08, 0x08];

describe('readOnnxMetadata()', () => {
  it('reads metadata_props and the version fields of the fixture model', () => {
    const meta = readOnnxMetadata(readFileSync(path.join(MODELS, 'fixture.onnx')));
    expect(meta.irVersion).toBe(8);
    expect(meta.modelVersion).toBe(1);
    expect(JSON.parse(meta.props.get('classes')!)).toEqual(['bulk-upload', 'bulk-download', 'interactive']);
    expect(meta.props.get('sequence_length')).toBe('30');
    expect(meta.props.get('model_version')).toBe('fixture-1');
    expect(meta.props.get('training_data')).toMatch(/fixed weights/);
  });

  it('decodes hand-made bytes, skipping fields of every wire type it does not read', () => {
    const bytes = Uint8Array.from([
      ...IR_VERSION_8,
      0x12, 0x03, 0x61, 0x62, 0x63, // producer_name "abc" (skipped)
      0x28, 0x96, 0x01, // model_version 150 (two-byte varint)
      0x79, 1, 2, 3, 4, 5, 6, 7, 8, // field 15, fixed64 (skipped)
      0x7d, 1, 2, 3, 4, // field 15, fixed32 (skipped)
      ...entry('classes', '["a"]'),
      ...entry('classes', '["b"]'), // repeated key: the last one wins, as protobuf merging does
      ...entry('sequence_length', '30'),
    ]);
    const meta = readOnnxMetadata(bytes);
    expect(meta.modelVersion).toBe(150);
    expect([...meta.props]).toEqual([
      ['classes', '["b"]'],
      ['sequence_length', '30'],
    ]);
  });

  it.each([
    ['an empty file', [], /file is empty/],
    ['a truncated varint', [0x08, 0x88], /varint runs past the end/],
    ['a length past the end', [...IR_VERSION_8, 0x72, 0x40, 0x0a], /field of 64 bytes runs past the end/],
    ['an over-long varint', [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than 10 bytes/],
    ['a group wire type', [...IR_VERSION_8, 0x0b], /unsupported wire type 3/],
    ['a truncated fixed64', [...IR_VERSION_8, 0x79, 1, 2], /fixed-size field runs past the end/],
    ['invalid UTF-8 in a key', [...IR_VERSION_8, 0x72, 0x04, 0x0a, 0x02, 0xc3, 0x28], /not valid UTF-8/],
    ['a message without ir_version', [...entry('classes', '[]')], /not an ONNX model/],
    ['a text file', [...Buffer.from('hello, this is not a model\n')], OnnxFormatError],
  ])('refuses %s with an OnnxFormatError', (_name, bytes, expected) => {
    expect(() => readOnnxMetadata(Uint8Array.from(bytes as number[]))).toThrow(expected as RegExp);
    expect(() => readOnnxMetadata(Uint8Array.from(bytes as number[]))).toThrow(OnnxFormatError);
  });

  it('never throws anything but OnnxFormatError on truncated copies of a real model', () => {
    const bytes = readFileSync(path.join(MODELS, 'fixture.onnx'));
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        readOnnxMetadata(bytes.subarray(0, cut));
      } catch (e) {
        expect(e).toBeInstanceOf(OnnxFormatError);
      }
    }
  });
});
