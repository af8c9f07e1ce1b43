// Compiles every contract in src/ with the pinned solc-js into artifacts/<Name>.json
// (ABI + bytecode + deployed bytecode). Output is deterministic, so the artifacts are committed and
// `node build.mjs --check` fails when they are stale (the test script runs it).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDirs = ['src', 'test'];
const outDir = path.join(here, 'artifacts');
const check = process.argv.includes('--check');

// Contracts deployed by the adapter get bytecode; ISharenetErrors is ABI only (every custom error).
// TestReceiver (test/) is a helper for the adapter's tests only.
const DEPLOYED = ['NodeRegistry', 'DatasetRegistry', 'AccessGrants', 'JobMarket', 'TestReceiver'];
const ABI_ONLY = ['ISharenetErrors'];

const sources = {};
for (const dir of srcDirs) {
  for (const f of fs.readdirSync(path.join(here, dir)).sort()) {
    if (f.endsWith('.sol')) sources[`${dir}/${f}`] = { content: fs.readFileSync(path.join(here, dir, f), 'utf8') };
  }
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: 'cancun',
    // No metadata hash in the bytecode: the bytecode then depends only on sources and settings.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};

const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

const wanted = {};
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (DEPLOYED.includes(name)) {
      const deployed = c.evm.deployedBytecode.object;
      if (deployed.length / 2 > 24576) {
        console.error(`${name}: deployed size ${deployed.length / 2} bytes exceeds the 24 KiB limit`);
        process.exit(1);
      }
      wanted[name] = {
        contractName: name,
        sourceName: file,
        compiler: solc.version(),
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + deployed,
      };
    } else if (ABI_ONLY.includes(name)) {
      wanted[name] = { contractName: name, sourceName: file, compiler: solc.version(), abi: c.abi };
    }
  }
}
for (const n of [...DEPLOYED, ...ABI_ONLY]) {
  if (!wanted[n]) {
    console.error(`contract ${n} not found in the sources`);
    process.exit(1);
  }
}

const rendered = Object.fromEntries(
  Object.entries(wanted).map(([n, a]) => [`${n}.json`, JSON.stringify(a, null, 2) + '\n']),
);

if (check) {
  const stale = [];
  const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith('.json')) : [];
  for (const [f, text] of Object.entries(rendered)) {
    const p = path.join(outDir, f);
    if (!fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== text) stale.push(f);
  }
  for (const f of present) if (!rendered[f]) stale.push(`${f} (no longer produced)`);
  if (stale.length > 0) {
    console.error(`stale contract artifacts: ${stale.join(', ')}; run: node contracts/build.mjs`);
    process.exit(1);
  }
  console.log(`contract artifacts up to date (${Object.keys(rendered).length} files, ${solc.version()})`);
} else {
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (f.endsWith('.json') && !rendered[f]) fs.unlinkSync(path.join(outDir, f));
  for (const [f, text] of Object.entries(rendered)) fs.writeFileSync(path.join(outDir, f), text);
  for (const [n, a] of Object.entries(wanted)) {
    if (a.deployedBytecode) console.log(`${n}: ${(a.deployedBytecode.length - 2) / 2} bytes deployed`);
  }
}
