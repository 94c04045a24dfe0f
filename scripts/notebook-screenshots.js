// Full-page screenshots of the static notebook pages scripts/notebook-to-html.py writes, as headless Chromium draws
// them at device scale 0.75 in a 1150 px wide window, after every plotly chart is drawn (or 30 s passed).
// Usage: node scripts/notebook-screenshots.js PAGE.html=OUT.png...   (playwright-core from .tools/, installed by
// scripts/setup-notebooks.sh --browser; Debian's chromium, or $CHROMIUM)
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", ".tools", "node_modules", "playwright-core"));

const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: flags });
  try {
    const page = await browser.newPage({ viewport: { width: 1150, height: 900 }, deviceScaleFactor: 0.75 });
    for (const spec of process.argv.slice(2)) {
      const html = spec.slice(0, spec.indexOf("=")), png = spec.slice(spec.indexOf("=") + 1);
      await page.goto("file://" + path.resolve(html), { waitUntil: "load" });
      // A chart is drawn when its box holds plotly's SVG; without plotly.js its static image stays visible.
      for (let waited = 0; waited < 30000; waited += 250) {
        const pending = await page.evaluate(() => [...document.querySelectorAll(".flux2-chart")].filter(box =>
          !box.querySelector(".js-plotly-plot .main-svg") && window.Plotly).length);
        if (!pending) break;
        await page.waitForTimeout(250);
      }
      await page.screenshot({ path: png, fullPage: true });
      console.log(png);
    }
  } finally {
    await browser.close();
  }
})().catch(e => { console.error(e); process.exit(2); });
