// Sum the gzip size of everything in dist/ the browser downloads and fail above the budget (300 KB gzip).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const dist = new URL("../dist/", import.meta.url).pathname;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

let raw = 0;
let gz = 0;
for (const path of files(dist).filter((p) => /\.(js|css|html|svg|json)$/.test(p))) {
  const data = readFileSync(path);
  const size = gzipSync(data, { level: 9 }).length;
  raw += data.length;
  gz += size;
  console.log(`  ${relative(dist, path).padEnd(40)} ${(data.length / 1024).toFixed(1).padStart(8)} KB  gzip ${(size / 1024).toFixed(1).padStart(7)} KB`);
}
const line = `bundle: ${(raw / 1024).toFixed(1)} KB, gzip ${(gz / 1024).toFixed(1)} KB (budget ${BUDGET_KB} KB gzip)`;
if (gz / 1024 > BUDGET_KB) {
  console.error(`${line}: OVER BUDGET`);
  process.exit(1);
}
console.log(line);
