#!/usr/bin/env node
'use strict';
// grpcurl-js: the part of grpcurl's command line that the docs use, built on
// server reflection only (no .proto files):
//
//   grpcurl.js -plaintext [-H 'k: v']... [-d JSON] [-emit-defaults] HOST:PORT list [SERVICE]
//   grpcurl.js -plaintext [-H 'k: v']... [-d JSON] [-emit-defaults] HOST:PORT SERVICE/METHOD
//
// Output follows grpcurl: the reply as protobuf JSON (json_name keys,
// defaults omitted) or, for an error,
//   ERROR:
//     Code: NotFound
//     Message: ...
//     Details:
//     1)  { "@type": "type.googleapis.com/google.rpc.ErrorInfo", ... }
// with the details decoded through descriptors fetched by reflection.
// Exit status: 0, or 64 + the gRPC code on an RPC error, 2 on usage errors.
// -plaintext is accepted and implied (this tool speaks plaintext only).

const { ReflectionClient, formatJson, formatError } = require('./reflection');

function usage(msg) {
  process.stderr.write(`${msg}\nusage: grpcurl.js -plaintext [-H 'k: v']... [-d JSON] [-emit-defaults] HOST:PORT (list [SERVICE] | SERVICE/METHOD)\n`);
  process.exit(2);
}

async function main(argv) {
  const headers = [];
  let data = '{}';
  let emitDefaults = false;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-plaintext') continue;
    else if (a === '-H') {
      const h = argv[++i] || '';
      const c = h.indexOf(':');
      if (c < 0) usage(`bad header ${h}`);
      headers.push([h.slice(0, c).trim().toLowerCase(), h.slice(c + 1).trim()]);
    } else if (a === '-d') data = argv[++i];
    else if (a === '-emit-defaults') emitDefaults = true;
    else if (a.startsWith('-')) usage(`unknown flag ${a}`);
    else rest.push(a);
  }
  if (rest.length < 2) usage('missing address or method');
  const [target, what, arg] = rest;
  const rc = new ReflectionClient(target, { headers });
  try {
    if (what === 'list') {
      if (!arg) {
        process.stdout.write(`${(await rc.listServices()).join('\n')}\n`);
      } else {
        await rc.resolveSymbol(arg);
        const svc = rc.pool.services.get(arg);
        if (!svc) usage(`service ${arg} not found`);
        process.stdout.write(`${[...svc.methods.keys()].map((m) => `${arg}.${m}`).join('\n')}\n`);
      }
      return 0;
    }
    let request;
    try { request = JSON.parse(data); } catch (e) { usage(`-d is not JSON: ${e.message}`); }
    const result = await rc.invoke(what, request, { emitDefaults });
    if (result.ok) {
      process.stdout.write(`${formatJson(result.json)}\n`);
      return 0;
    }
    process.stderr.write(`${formatError(result)}\n`);
    return 64 + result.code;
  } finally {
    rc.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  process.stderr.write(`Failed: ${err.message}\n`);
  process.exit(1);
});
