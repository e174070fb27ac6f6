// node stream_records.mjs <horizon url> <payments|transactions> <account> <cursor> <limit|0> <count>
// Follows one account's payments or transactions with the JS stellar-sdk's own
// `.stream({onmessage})`, as a JS wallet would, and prints one JSON line per event:
//   {"connected": <url the SDK opened>}   each time the SDK (re)connects
//   {"record": {...}}                      each record onmessage got
// then exits once `count` records came (exit 1 after 30 s without them).
// The SDK opens its streams with the `eventsource` package; this script hands it the
// same class, only listening for its connections (the SDK exposes none), so a caller
// knows when a `cursor=now` stream is open and from which cursor the SDK resumed.
import EventSource from "eventsource";

const [url, kind, account, cursor, limit, count] = process.argv.slice(2);

class ObservedEventSource extends EventSource {
  constructor(streamUrl, init) {
    super(streamUrl, init);
    // The connection's own open event carries no data; Horizon's hello does.
    this.addEventListener("open", (event) => {
      if (event.data === undefined) console.log(JSON.stringify({ connected: streamUrl }));
    });
  }
}
globalThis.EventSource = ObservedEventSource;
// Imported after the global is set: the SDK picks its EventSource when it loads.
const { Horizon } = await import("@stellar/stellar-sdk");

const server = new Horizon.Server(url, { allowHttp: true });
let builder = kind === "payments" ? server.payments() : server.transactions();
builder = builder.forAccount(account).cursor(cursor);
if (Number(limit) > 0) builder = builder.limit(Number(limit));

let seen = 0;
const timer = setTimeout(() => {
  console.error(`only ${seen} of ${count} records within 30 s`);
  process.exit(1);
}, 30_000);
const close = builder.stream({
  onmessage: (record) => {
    const { paging_token, type, amount, hash, successful, source_account } = record;
    console.log(
      JSON.stringify({ record: { paging_token, type, amount, hash, successful, source_account } }),
    );
    seen += 1;
    if (seen === Number(count)) {
      clearTimeout(timer);
      close();
      process.exit(0);
    }
  },
  onerror: (error) => console.error(`stream error: ${error?.message ?? error?.type ?? error}`),
});
