// tlslab's Node.js client: https.request over Node's tls (its bundled or system OpenSSL).
//
// One long-lived process serves many probes: one JSON request per line on stdin, one JSON
// result per line on stdout; requests are served one at a time, in order.
//
// Request fields: host, port, servername, sni (bool), min_version, max_version (Node names:
// "TLSv1".."TLSv1.3"), ciphers (an OpenSSL string; TLS 1.3 names included), ca_file, cert_file,
// key_file, timeout_ms. Result fields: status, status_line, protocol, cipher, error (Node's
// message, then its code), judged_by ("client" or "lab"), bad_request.
//
// Without SNI (servername ""), Node checks the certificate's name against the connected
// address (127.0.0.1); the probe's checkServerIdentity checks the lab's name instead, with
// Node's own tls.checkServerIdentity: that name verdict is the lab's, and says so.
'use strict';

const fs = require('fs');
const https = require('https');
const readline = require('readline');
const tls = require('tls');

function errorText(err) {
  const text = err && err.message ? err.message : String(err);
  return err && err.code && !text.includes(err.code) ? `${text} (code: ${err.code})` : text;
}

function probe(req) {
  return new Promise((resolve) => {
    let options;
    const lab = { checked: false, failed: false };
    try {
      options = {
        host: req.host, port: req.port, path: '/', method: 'GET', agent: false,
        headers: { Host: req.servername, 'User-Agent': 'tlslab', Connection: 'close' },
        servername: req.sni ? req.servername : '',
        minVersion: req.min_version, maxVersion: req.max_version, ciphers: req.ciphers,
        ca: fs.readFileSync(req.ca_file),
      };
      if (req.cert_file) {
        options.cert = fs.readFileSync(req.cert_file);
        options.key = fs.readFileSync(req.key_file);
      }
    } catch (err) {
      resolve({ bad_request: errorText(err), judged_by: 'lab' });
      return;
    }
    if (!req.sni) {
      options.checkServerIdentity = (_address, cert) => {
        lab.checked = true;
        const err = tls.checkServerIdentity(req.servername, cert);
        lab.failed = err !== undefined;
        return err;
      };
    }
    let done = false;
    const finish = (result) => {
      if (!done) {
        done = true;
        resolve(result);
      }
    };
    const request = https.request(options, (res) => {
      const socket = res.socket;
      const protocol = socket.getProtocol ? socket.getProtocol() : null;
      const cipher = socket.getCipher ? socket.getCipher() : null;
      res.on('data', () => {});
      res.on('end', () => finish({
        status: res.statusCode,
        status_line: `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`,
        protocol, cipher: cipher ? cipher.standardName || cipher.name : null,
        judged_by: lab.checked ? 'lab' : 'client',
      }));
      res.on('error', (err) => finish({ error: errorText(err), judged_by: 'client' }));
    });
    request.setTimeout(req.timeout_ms, () => {
      request.destroy(new Error(`timed out: no answer within ${req.timeout_ms} ms`));
    });
    request.on('error', (err) => finish({
      error: errorText(err), judged_by: lab.failed ? 'lab' : 'client',
    }));
    request.end();
  });
}

async function main() {
  process.stdout.write(JSON.stringify({
    ready: true, pid: process.pid, node: process.version, openssl: process.versions.openssl,
  }) + '\n');
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    let result;
    try {
      result = await probe(JSON.parse(line));
    } catch (err) {
      result = { bad_request: errorText(err), judged_by: 'lab' };
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}

main();
