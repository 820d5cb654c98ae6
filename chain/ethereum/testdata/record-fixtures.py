#!/usr/bin/env python3
# Records the geth_*.json fixtures of chain/ethereum's unit tests: the
# JSON-RPC response bodies of a geth v1.17.10 dev node for one block holding
# every kind of transaction the adapter must tell apart, and of its txpool
# while the same transactions were pending. Run against a node that leaves
# transactions pending for a few seconds:
#
#   geth --dev --dev.period 3 --http --http.addr 127.0.0.1 --http.port 18546 \
#     --http.api eth,net,web3,txpool --datadir /tmp/rec --port 0 \
#     --authrpc.port 18552 --ipcdisable --nodiscover --maxpeers 0
#   python3 record-fixtures.py OUTDIR
#
# then copy block.json, receipts.json, logs.json, txpool_content.json and
# txpool_content_empty.json to geth_block.json, geth_block_receipts.json,
# geth_block_logs.json, geth_txpool_content.json and
# geth_txpool_content_queued_only.json. OUTDIR/info.json names the accounts
# and transactions; the unit tests hard-code them. Hashes change with each
# recording (timestamps), so a new recording means updating those tests.
import json, urllib.request, time, os, sys, random
URL = "http://127.0.0.1:18546"
OUT = sys.argv[1]
def rpc(method, *params, raw=False):
    body = json.dumps({"jsonrpc":"2.0","id":1,"method":method,"params":list(params)}).encode()
    req = urllib.request.Request(URL, body, {"Content-Type":"application/json"})
    data = urllib.request.urlopen(req).read()
    if raw: return data
    r = json.loads(data)
    if "error" in r: raise Exception(method + ": " + json.dumps(r["error"]))
    return r["result"]
def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f: f.write(data.rstrip(b"\n") + b"\n")
def word(x):
    if isinstance(x, str): return x[2:].rjust(64, "0")
    return format(x, "064x")
def wait_receipt(h):
    while True:
        try:
            r = rpc("eth_getTransactionReceipt", h)
        except Exception as e:
            r = None
        if r: return r
        time.sleep(0.05)
def wait_next_block():
    n = rpc("eth_blockNumber")
    while rpc("eth_blockNumber") == n: time.sleep(0.02)
def addr(): return "0x" + "".join(random.choice("0123456789abcdef") for _ in range(40))
random.seed(7)
dev = rpc("eth_accounts")[0]
code = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "TestToken.bin")).read().strip()
supply = 10**12
h = rpc("eth_sendTransaction", {"from": dev, "input": "0x" + code + word(supply)})
token = wait_receipt(h)["contractAddress"]
A, B, C, D = addr(), addr(), addr(), addr()
info = {"dev": dev, "token": token, "A": A, "B": B, "C": C, "D": D}
wait_next_block()
txs = {}
def send(name, **kw):
    args = {"from": dev}; args.update(kw)
    txs[name] = rpc("eth_sendTransaction", args)
send("eth_A", to=A, value=hex(20 * 10**18))
send("usdt_B", to=token, input="0xa9059cbb" + word(B) + word(1234567))
sel_batch = "0x" + rpc("web3_sha3", "0x" + b"transferBatch(address[],uint256[])".hex())[2:10]
send("batch_ACA", to=token, input=sel_batch + word(64) + word(64 + 32*4) + word(3) + word(A) + word(C) + word(A) + word(3) + word(10) + word(20) + word(30))
send("eth_to_token_reverts", to=token, value=hex(10**18), gas=hex(100000))
send("usdt_too_much_reverts", to=token, input="0xa9059cbb" + word(D) + word(supply * 2), gas=hex(100000))
send("usdt_transferFrom_reverts", to=token, input="0x23b872dd" + word(dev) + word(C) + word(555), gas=hex(100000))
send("create", input="0x" + code + word(777))
send("eth_zero_D", to=D, value="0x0")
nonce = int(rpc("eth_getTransactionCount", dev, "pending"), 16)
send("queued_eth_D", to=D, value=hex(99), nonce=hex(nonce + 5))
save("txpool_content.json", rpc("txpool_content", raw=True))
for name in list(txs):
    if name.startswith("queued"): continue
    r = wait_receipt(txs[name])
info["txs"] = txs
height = int(wait_receipt(txs["eth_A"])["blockNumber"], 16)
for name in txs:
    if name.startswith("queued"): continue
    assert int(wait_receipt(txs[name])["blockNumber"], 16) == height, name
blk = rpc("eth_getBlockByNumber", hex(height), True)
info["height"] = height; info["hash"] = blk["hash"]
save("block.json", rpc("eth_getBlockByNumber", hex(height), True, raw=True))
save("receipts.json", rpc("eth_getBlockReceipts", blk["hash"], raw=True))
save("logs.json", rpc("eth_getLogs", {"blockHash": blk["hash"], "address": [token], "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"]}, raw=True))
save("txpool_content_empty.json", rpc("txpool_content", raw=True))
json.dump(info, open(os.path.join(OUT, "info.json"), "w"), indent=1)
print(json.dumps(info, indent=1))
