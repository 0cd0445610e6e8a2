// A short tour of the store on the embedded database: no server needed.
// Run it with `npm start`.
import { createEmbeddedStore } from "../src/index.js";

const store = await createEmbeddedStore();
try {
  const run = "/runs/42";
  await store.set(run, "plan", Buffer.from(JSON.stringify({ nodes: ["fetch", "transform", "load"] })));
  await store.set(run, "context", Buffer.from([0x00, 0x01, 0x02, 0xff]));
  await store.set(run, "trace/fetch", Buffer.from("ok"));

  console.log("plan:", (await store.get(run, "plan"))?.toString());
  console.log("context:", await store.get(run, "context"));
  console.log("missing:", await store.get(run, "nothing-here"));

  console.log(`keys under ${run}:`);
  await store.list(run, (key) => {
    console.log(`  ${key}`);
  });

  await store.remove(run, "trace/fetch");
  console.log("after remove:", await store.get(run, "trace/fetch"));
} finally {
  await store.close();
}
