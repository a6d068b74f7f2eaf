// npm test: builds the concord binary once (the test files each start a
// `concord dev` cluster from it), then runs every test file with Node's
// test runner, one file at a time (the machine is small).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "concord-ts-"));
let status = 1;
try {
  const bin = join(dir, "concord");
  const build = spawnSync("go", ["build", "-o", bin, "./cmd/concord"], { cwd: repoRoot, stdio: "inherit", timeout: 600_000 });
  if (build.status !== 0) throw new Error(`go build ./cmd/concord failed (${build.status ?? build.signal})`);
  const files = readdirSync(here).filter((f) => f.endsWith(".test.ts")).sort().map((f) => join(here, f));
  const only = process.argv.slice(2);
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1", ...(only.length > 0 ? only : files)],
    { stdio: "inherit", env: { ...process.env, CONCORD_BIN: bin }, timeout: 1_200_000 },
  );
  status = run.status ?? 1;
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
