// Counts the plotly charts a browser draws in notebooks served by a Jupyter Notebook server, after a reload.
// Usage: node scripts/notebook-charts.js BASE_URL TOKEN NAME=EXPECTED...   (playwright-core from .tools/, installed by
// scripts/setup-notebooks.sh --browser; Debian's chromium). Prints "NAME drawn EXPECTED" per notebook, or
// "NAME drawn N, expected EXPECTED", and exits 1 if any count differs.
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", ".tools", "node_modules", "playwright-core"));

const [base, token, ...specs] = process.argv.slice(2);
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: flags });
  let failed = 0;
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    for (const spec of specs) {
      const [name, expectedText] = spec.split("=");
      const expected = Number(expectedText);
      await page.goto(`${base}/notebooks/${encodeURIComponent(name)}?token=${token}`, { waitUntil: "load" });
      await page.reload({ waitUntil: "load" });
      // The outputs' scripts run as the notebook renders; wait until every chart is drawn (or 60 s passed).
      let drawn = 0;
      for (let waited = 0; waited < 60000; waited += 500) {
        drawn = await page.evaluate(() => document.querySelectorAll(".output_area .js-plotly-plot .main-svg").length
          ? new Set([...document.querySelectorAll(".output_area .js-plotly-plot")]).size : 0);
        if (drawn >= expected) break;
        await page.waitForTimeout(500);
      }
      if (drawn === expected) console.log(`${name} drawn ${drawn}`);
      else { failed++; console.log(`${name} drawn ${drawn}, expected ${expected}`); }
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
