// live_test.js - ustack-httpd's /live page in headless Chromium, driven by
// playwright-core (run by tests/host/test_httpd_live.sh inside the test's
// network namespace, with NODE_PATH pointing at the installed package).
//
// Usage: node live_test.js URL LOCAL REMOTE RELEASE_FILE OUT_DIR
//   URL           http://10.0.0.2
//   LOCAL REMOTE  the held connection as the stack sees it: 10.0.0.2:80 10.0.0.1:PORT
//   RELEASE_FILE  created here once the page shows the connection
//                 ESTABLISHED; the test's client then closes it
//   OUT_DIR       screenshots (live-1.png while open, live-2.png after)
// Checks: the page loads and goes live; the connection's row shows
// ESTABLISHED; the state diagram counts it; the ARP table shows the kernel
// side; after the close the row disappears and the ladder of that
// connection shows it going through CLOSE_WAIT to CLOSED. Exit 0 or 1.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const [url, local, remote, release, outDir] = process.argv.slice(2);
const key = `tcp ${local} ${remote}`;
const conn = `${local} ${remote}`;
const kernelAddr = remote.split(":")[0];

function fail(msg) {
  console.error("live_test: FAIL: " + msg);
  process.exitCode = 1;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"],
    timeout: 60000,
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1150 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  try {
    const resp = await page.goto(url + "/live", { timeout: 20000 });
    if (!resp || resp.status() !== 200) throw new Error("GET /live: " + (resp && resp.status()));
    await page.waitForSelector("#status.ok", { timeout: 20000 });

    // The held connection, ESTABLISHED, in the table and in the diagram.
    const row = `#conntable tr[data-key="${key}"]`;
    await page.waitForSelector(`${row}[data-state="ESTABLISHED"]`, { timeout: 20000 });
    const stateText = await page.textContent(`${row} td.state`);
    if (stateText.trim() !== "ESTABLISHED") throw new Error("row state: " + stateText);
    const estCount = Number(await page.textContent('#fsm g.node[data-state="ESTABLISHED"] text.count'));
    if (!(estCount >= 1)) throw new Error("the diagram counts " + estCount + " ESTABLISHED");
    await page.waitForSelector(`#arptable tr[data-addr="${kernelAddr}"]`, { timeout: 10000 });
    await page.waitForSelector(`.ladder[data-conn="${conn}"]`, { timeout: 10000 });
    await page.waitForTimeout(1200); // one more refresh, so counters show a rise
    await page.screenshot({ path: path.join(outDir, "live-1.png"), fullPage: true });
    console.log("live_test: ESTABLISHED shown (diagram count " + estCount + ")");

    // Close it: the row goes, the ladder shows the end.
    fs.writeFileSync(release, "close\n");
    await page.waitForSelector(row, { state: "detached", timeout: 20000 });
    await page.waitForFunction((c) => {
      const l = document.querySelector(`.ladder[data-conn="${c}"]`);
      return l && l.textContent.includes("CLOSE_WAIT") && /CLOSED/.test(l.textContent);
    }, conn, { timeout: 20000 });
    await page.screenshot({ path: path.join(outDir, "live-2.png"), fullPage: true });
    const ladder = await page.textContent(`.ladder[data-conn="${conn}"]`);
    console.log("live_test: row gone after the close; ladder: " + ladder.replace(/\s+/g, " ").slice(0, 200));
    if (errors.length) fail("errors in the page: " + errors.join("; "));
  } catch (e) {
    fail(e.message);
    try { await page.screenshot({ path: path.join(outDir, "live-fail.png"), fullPage: true }); } catch (_) { /* ignore */ }
    try {
      console.error("table: " + (await page.$$eval("#conntable tr[data-key]", (r) => r.map((x) => x.dataset.key + " " + x.dataset.state))).join("; "));
      console.error("ladders: " + (await page.$$eval(".ladder", (l) => l.map((x) => x.textContent.replace(/\s+/g, " ")))).join(" | "));
    } catch (_) { /* ignore */ }
  } finally {
    await browser.close();
  }
})().catch((e) => { fail(e.message); });
