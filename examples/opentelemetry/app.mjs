// A small application for the recipe: writes through the writer and reads through the
// reader once every 100 ms, printing which node answered each.
import { connectSplit } from 'pg-split';

const cluster = await connectSplit(process.env.DATABASE_URL ?? 'postgresql://localhost/postgres');
const who = 'SELECT host(inet_server_addr()) AS host';
for (;;) {
  const [write, read] = await Promise.allSettled([cluster.writer.query(who), cluster.reader.query(who)]);
  const host = (r) => (r.status === 'fulfilled' ? r.value.rows[0].host : `failed: ${r.reason.message}`);
  console.log(`write ${host(write)}  read ${host(read)}`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
