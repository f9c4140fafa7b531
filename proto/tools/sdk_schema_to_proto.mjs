#!/usr/bin/env node
// sdk_schema_to_proto.mjs -- prints Milvus message/enum definitions in
// .proto syntax, taken from the protobuf schema embedded in the pinned
// Node.js SDK (tests/e2e/node_modules/@zilliz/milvus2-sdk-node), which
// matches milvus-proto branch 3.0 field for field.  Use it to extend
// proto/milvus/*.proto with exact field numbers.
//
// The output already has the protoc-c fixes applied: fields named `base`
// become `msg_base`, proto3 `optional` is dropped, and custom options and
// extensions (which need descriptor.proto) are left out.
//
// Usage: node proto/tools/sdk_schema_to_proto.mjs <package> [Name...]
//   <package>: common | schema | milvus | msg | rg | feder
//   Name...:   top-level messages/enums to print (default: all)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const req = createRequire(
  path.join(here, '../../tests/e2e/node_modules/@zilliz/milvus2-sdk-node/'));
const schema = req('./dist/milvus/proto-json/milvus.js').default;
const root = schema.nested.milvus.nested.proto.nested;

function fieldLine(name, f, ind) {
  const opts = [];
  if (f.options?.deprecated) opts.push('deprecated = true');
  if (f.options?.packed === false) opts.push('packed = false');
  const o = opts.length ? ` [${opts.join(', ')}]` : '';
  if (name === 'base' && /(^|\.)MsgBase$/.test(f.type)) name = 'msg_base';
  const type = f.keyType ? `map<${f.keyType}, ${f.type}>`
    : (f.rule === 'repeated' ? `repeated ${f.type}` : f.type);
  return `${ind}${type} ${name} = ${f.id}${o};`;
}

function emitEnum(name, e, ind, out) {
  out.push(`${ind}enum ${name} {`);
  if (e.options?.allow_alias) out.push(`${ind}  option allow_alias = true;`);
  for (const [k, v] of Object.entries(e.values)) {
    const dep = e.valuesOptions?.[k]?.deprecated ? ' [deprecated = true]' : '';
    out.push(`${ind}  ${k} = ${v}${dep};`);
  }
  if (e.reserved) out.push(`${ind}  reserved ${fmtReserved(e.reserved)};`);
  out.push(`${ind}}`);
}

function fmtReserved(r) {
  return r.map((x) => Array.isArray(x)
    ? (x[0] === x[1] ? `${x[0]}` : `${x[0]} to ${x[1] === 536870911 ? 'max' : x[1]}`)
    : JSON.stringify(x)).join(', ');
}

function emitMessage(name, m, ind, out) {
  out.push(`${ind}message ${name} {`);
  const inner = ind + '  ';
  for (const [n, t] of Object.entries(m.nested || {})) {
    if (t.values) emitEnum(n, t, inner, out);
    else if (t.fields) emitMessage(n, t, inner, out);
  }
  const inOneof = new Map();
  for (const [on, o] of Object.entries(m.oneofs || {})) {
    // proto3 `optional` shows up as a synthetic oneof "_<field>".
    if (o.oneof.length === 1 && on === `_${o.oneof[0]}`) continue;
    for (const f of o.oneof) inOneof.set(f, on);
  }
  const doneOneofs = new Set();
  for (const [fn, f] of Object.entries(m.fields || {})) {
    if (f.extend) continue;
    const on = inOneof.get(fn);
    if (!on) { out.push(fieldLine(fn, f, inner)); continue; }
    if (doneOneofs.has(on)) continue;
    doneOneofs.add(on);
    out.push(`${inner}oneof ${on} {`);
    for (const member of m.oneofs[on].oneof)
      out.push(fieldLine(member, m.fields[member], inner + '  '));
    out.push(`${inner}}`);
  }
  if (m.reserved) out.push(`${inner}reserved ${fmtReserved(m.reserved)};`);
  out.push(`${ind}}`);
}

const [pkg, ...names] = process.argv.slice(2);
if (!pkg || !root[pkg]) {
  console.error(`usage: sdk_schema_to_proto.mjs <${Object.keys(root).join('|')}> [Name...]`);
  process.exit(2);
}
const ns = root[pkg].nested;
const out = [];
for (const n of names.length ? names : Object.keys(ns)) {
  const t = ns[n];
  if (!t) { console.error(`no type '${n}' in package ${pkg}`); process.exit(1); }
  if (t.values) emitEnum(n, t, '', out);
  else if (t.fields) emitMessage(n, t, '', out);
  else continue; // services and extensions are written by hand
  out.push('');
}
process.stdout.write(out.join('\n'));
