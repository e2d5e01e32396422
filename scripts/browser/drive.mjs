// Drives the web client (web/www) in headless Chromium like a user:
// log in, add a contact, wait until it shows online, send it a message
// and wait for the answer to appear. Prints what the page shows; exits
// non-zero if any step does not happen within the timeout.
//
// node drive.mjs PAGE_URL WS_URL JID PASSWORD CONTACT [SPKI_HASH]
import { chromium } from "playwright-core";

const [page_url, ws_url, jid, password, contact, spki] = process.argv.slice(2);
const TIMEOUT = 20000;
const token = `hello from the browser ${Date.now()}`;

const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
// Trust exactly the test server's key (its CA is not in Chromium's store).
if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args,
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.log(`[page] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console.log(`[page] error: ${e.message}`));
  await page.goto(page_url);
  await page.fill("#url", ws_url);
  await page.fill("#jid", jid);
  await page.fill("#password", password);
  await page.click("#connect");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("online"), null, { timeout: TIMEOUT });
  console.log(`status: ${await page.textContent("#status")}`);

  await page.fill("#contact", contact);
  await page.click("#add-contact");
  await page.waitForSelector(`#roster li.online[data-jid="${contact}"]`, { timeout: TIMEOUT });
  console.log(`roster: ${(await page.textContent("#roster")).trim()}`);

  await page.fill("#to", contact);
  await page.fill("#body", token);
  await page.click("#send-message");
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#log li.in")].some((li) => li.textContent.includes(`echo: ${t}`)),
    token,
    { timeout: TIMEOUT },
  );
  for (const li of await page.$$("#log li")) console.log(`log: ${await li.textContent()}`);

  await page.click("#logout");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("offline"), null, { timeout: TIMEOUT });
  console.log(`status: ${await page.textContent("#status")}`);
  console.log(`SENT ${token}`);
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
