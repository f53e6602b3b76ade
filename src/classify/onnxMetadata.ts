/**
 * Reads the model-level metadata of an ONNX file straight from its protobuf bytes.
 *
 * onnxruntime-node does not expose `metadata_props`, and the sensor needs them (class names, sequence length,
 * version; SPEC.md "The model contract"), so this walks the top level of `ModelProto` itself. Only the fields
 * below are decoded; everything else (the graph, initializers) is skipped by its length without being read.
 *
 *   ModelProto:            1 ir_version (varint), 5 model_version (varint), 14 metadata_props (repeated message)
 *   StringStringEntryProto: 1 key (string), 2 value (string)
 *
 * (onnx.proto numbers StringStringEntryProto's value 2; it is the only other field of that message.)
 * Every read is bounds-checked: a damaged file gives an OnnxFormatError with the byte offset, never a crash.
 */

export interface OnnxMetadata {
  irVersion: number;
  /** ModelProto.model_version (an integer the exporter may set; the contract's version string is a metadata prop). */
  modelVersion: number;
  /** metadata_props, key -> value. A key repeated in the file keeps its last value (protobuf merge semantics). */
  props: Map<string, string>;
}

/** The bytes are not a readable ONNX ModelProto; the message says where it broke. */
export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

const MODEL_IR_VERSION = 1;
const MODEL_MODEL_VERSION = 5;
const MODEL_METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

/** A varint is at most 10 bytes (64 bits in 7-bit groups). */
const MAX_VARINT_BYTES = 10;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over one protobuf message: [pos, end) of `bytes`. */
class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a varint as a JS number; values above 2^53 lose precision, which no field read here can reach. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) throw this.fail('varint runs past the end of its message');
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw this.fail('varint longer than 10 bytes');
  }

  /** Reads a length prefix and returns a Reader over that many bytes, advancing past them. */
  sub(): Reader {
    const len = this.varint();
    if (len > this.end - this.pos) {
      throw this.fail(`field of ${len} bytes runs past the end of its message (${this.end - this.pos} left)`);
    }
    const start = this.pos;
    this.pos += len;
    return new Reader(this.bytes, start, start + len);
  }

  string(): string {
    const r = this.sub();
    try {
      return utf8.decode(this.bytes.subarray(r.pos, r.end));
    } catch {
      throw this.fail('string field is not valid UTF-8');
    }
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH:
        this.sub();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        // 3/4 are proto2 groups, which ONNX never uses; 6/7 do not exist.
        throw this.fail(`unsupported wire type ${wireType}`);
    }
  }

  fail(what: string): OnnxFormatError {
    return new OnnxFormatError(`${what} at byte ${this.pos}`);
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw this.fail(`fixed-size field runs past the end of its message`);
    this.pos += n;
  }
}

function readEntry(r: Reader, props: Map<string, string>): void {
  let key: string | null = null;
  let value = '';
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === ENTRY_KEY && wire === WIRE_LENGTH) key = r.string();
    else if (field === ENTRY_VALUE && wire === WIRE_LENGTH) value = r.string();
    else r.skip(wire);
  }
  if (key !== null) props.set(key, value);
}

/** Decodes the metadata of an ONNX model. Throws OnnxFormatError when the bytes are not a ModelProto. */
export function readOnnxMetadata(bytes: Uint8Array): OnnxMetadata {
  if (bytes.length === 0) throw new OnnxFormatError('file is empty');
  const r = new Reader(bytes, 0, bytes.length);
  const meta: OnnxMetadata = { irVersion: 0, modelVersion: 0, props: new Map() };
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw r.fail('field number 0');
    if (field === MODEL_IR_VERSION && wire === WIRE_VARINT) meta.irVersion = r.varint();
    else if (field === MODEL_MODEL_VERSION && wire === WIRE_VARINT) meta.modelVersion = r.varint();
    else if (field === MODEL_METADATA_PROPS && wire === WIRE_LENGTH) readEntry(r.sub(), meta.props);
    else r.skip(wire);
  }
  // Every ONNX exporter writes ir_version; bytes without it are almost certainly some other file.
  if (meta.irVersion === 0) throw new OnnxFormatError('no ir_version field: this is not an ONNX model');
  return meta;
}

/**
 * The metadata_props of a model file for a contract check: an unreadable file is refused with `refuse`'s error
 * (one line naming the model), like every other contract failure.
 */
export function readMetadataProps(bytes: Uint8Array, refuse: (what: string) => Error): Map<string, string> {
  try {
    return readOnnxMetadata(bytes).props;
  } catch (e) {
    if (e instanceof OnnxFormatError) throw refuse(`not a readable ONNX file: ${e.message}`);
    throw e;
  }
}

/** A metadata entry the contract requires: missing or blank is refused (`hint` is appended to "missing"). */
export function requiredMetadata(props: Map<string, string>, key: string, refuse: (what: string) => Error, hint = ''): string {
  const value = props.get(key);
  if (value === undefined) throw refuse(`metadata '${key}' is missing${hint}`);
  if (value.trim() === '') throw refuse(`metadata '${key}' is empty`);
  return value;
}
