// segfiles.mjs -- reading the datanode's flushed segments back in tests:
// the column file format (QVCL, common/column/README.md) and the object
// key layout insert_log/{coll}/{part}/{seg}/{field}/{log}
// (common/msg/seglog.h), from a local objects directory or an S3 listing.
import fs from 'node:fs';
import path from 'node:path';

/** Parses a column file header and locates its sections. */
export function parseColumn(buf) {
  if (buf.length < 128 || buf.toString('latin1', 0, 4) !== 'QVCL') {
    throw new Error(`not a column file (${buf.length} bytes)`);
  }
  const u64 = (o) => Number(buf.readBigUInt64LE(o));
  const col = {
    fieldId: u64(8),
    dtype: buf.readUInt32LE(16),
    dim: buf.readUInt32LE(24),
    rows: u64(32),
    width: buf.readUInt32LE(40),
    offsets: null,
    data: buf.subarray(u64(80), u64(80) + u64(88)),
  };
  if (u64(72) > 0) col.offsets = buf.subarray(u64(64), u64(64) + u64(72));
  if (u64(96) !== buf.length) throw new Error(`column file length ${buf.length} != ${u64(96)}`);
  return col;
}

/** Int64 values of a column (BigInt). */
export function int64s(col) {
  const out = [];
  for (let i = 0; i < col.rows; i++) out.push(col.data.readBigInt64LE(i * 8));
  return out;
}

/** VarChar values of a column. */
export function strings(col) {
  const out = [];
  for (let i = 0; i < col.rows; i++) {
    const a = Number(col.offsets.readBigUInt64LE(i * 8));
    const b = Number(col.offsets.readBigUInt64LE(i * 8 + 8));
    out.push(col.data.toString('utf8', a, b));
  }
  return out;
}

/** Bytes of row i of a fixed-width column. */
export function rowBytes(col, i) {
  return col.data.subarray(i * col.width, (i + 1) * col.width);
}

/**
 * The flushed segments of a collection under a local objects directory:
 * [{ part, seg, fields: { fieldId: absolute path } }] (one log per field
 * expected: the datanode writes each segment once).
 */
export function localSegments(objectsDir, collId) {
  const base = path.join(objectsDir, 'insert_log', String(collId));
  const segs = [];
  if (!fs.existsSync(base)) return segs;
  for (const part of fs.readdirSync(base)) {
    for (const seg of fs.readdirSync(path.join(base, part))) {
      const fields = {};
      for (const f of fs.readdirSync(path.join(base, part, seg))) {
        const logs = fs.readdirSync(path.join(base, part, seg, f));
        if (logs.length !== 1) throw new Error(`segment ${seg} field ${f}: ${logs.length} logs`);
        fields[f] = path.join(base, part, seg, f, logs[0]);
      }
      segs.push({ part: Number(part), seg: Number(seg), fields });
    }
  }
  return segs;
}
