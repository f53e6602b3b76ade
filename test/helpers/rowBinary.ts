/**
 * A reader of ClickHouse's RowBinary format for the tests: decodes rows by the column types as ClickHouse documents
 * them (little-endian fixed widths, LEB128-prefixed strings and arrays, Nullable as a null flag then the value),
 * independently of the sensor's writer, so a test can check the bytes the sink sends.
 */
export function decodeRowBinary(buf: Buffer, columns: readonly { name: string; type: string }[]): Record<string, unknown>[] {
  let o = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = buf[o++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
    }
  };
  const read = (type: string): unknown => {
    const nullable = /^Nullable\((.*)\)$/.exec(type);
    if (nullable !== null) return buf[o++] === 1 ? null : read(nullable[1]!);
    const array = /^Array\((.*)\)$/.exec(type);
    if (array !== null) {
      const n = varint();
      return Array.from({ length: n }, () => read(array[1]!));
    }
    let v: unknown;
    switch (type.replace(/\(.*\)$/, '')) {
      case 'String': {
        const n = varint();
        v = buf.toString('utf8', o, o + n);
        o += n;
        return v;
      }
      case 'UInt8':
        return buf[o++];
      case 'UInt16':
        v = buf.readUInt16LE(o);
        o += 2;
        return v;
      case 'UInt32':
      case 'DateTime':
        v = buf.readUInt32LE(o);
        o += 4;
        return v;
      case 'Int32':
        v = buf.readInt32LE(o);
        o += 4;
        return v;
      case 'UInt64':
        v = Number(buf.readBigUInt64LE(o));
        o += 8;
        return v;
      case 'Float64':
        v = buf.readDoubleLE(o);
        o += 8;
        return v;
      default:
        throw new Error(`decodeRowBinary: no reader for ${type}`);
    }
  };
  const rows: Record<string, unknown>[] = [];
  while (o < buf.length) {
    const row: Record<string, unknown> = {};
    for (const c of columns) row[c.name] = read(c.type);
    rows.push(row);
  }
  if (o !== buf.length) throw new Error(`decodeRowBinary: ${o - buf.length} bytes past the end`);
  return rows;
}
