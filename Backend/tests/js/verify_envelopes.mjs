// Reads one JSON object per line on stdin: {"xdr", "passphrase", "signers": [G...]}.
// For each, prints {"hash", "valid": [G... whose signature verifies], "operations": [...]}
// computed by the JS stellar-base alone: an implementation that shares no code with
// PayTrace's Python stellar-sdk.
import { createInterface } from "node:readline";
import { Keypair, TransactionBuilder } from "@stellar/stellar-base";

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { xdr, passphrase, signers } = JSON.parse(line);
  const tx = TransactionBuilder.fromXDR(xdr, passphrase);
  const hash = tx.hash();
  const valid = signers.filter((address) => {
    const key = Keypair.fromPublicKey(address);
    return tx.signatures.some(
      (sig) => sig.hint().equals(key.signatureHint()) && key.verify(hash, sig.signature()),
    );
  });
  const inner = tx.innerTransaction ?? tx;
  const operations = inner.operations.map((op) => ({ type: op.type, source: op.source ?? null }));
  console.log(JSON.stringify({ hash: hash.toString("hex"), valid, operations }));
}
