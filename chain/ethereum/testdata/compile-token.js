// Compiles TestToken.sol with npm solc (the version pinned in
// TestToken.sol) and prints its creation bytecode as hex, no 0x, for
// TestToken.bin. Run from this directory: node compile-token.js > TestToken.bin
const fs = require('fs');
const solc = require('solc');

const input = {
  language: 'Solidity',
  sources: { 'TestToken.sol': { content: fs.readFileSync(__dirname + '/TestToken.sol', 'utf8') } },
  settings: {
    evmVersion: 'cancun',
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) {
  process.stderr.write(e.formattedMessage);
  if (e.severity === 'error') process.exit(1);
}
process.stdout.write(out.contracts['TestToken.sol'].TestToken.evm.bytecode.object + '\n');
