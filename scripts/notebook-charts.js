// Counts the plotly charts a browser draws in notebooks served by a Jupyter Notebook server, after a reload.
// Usage: node scripts/notebook-charts.js BASE_URL TOKEN NAME=EXPECTED... [--rerun NAME]   (playwright-core from
// .tools/, installed by scripts/setup-notebooks.sh --browser; Debian's chromium). Prints "NAME drawn EXPECTED" per
// notebook, or "NAME drawn N, expected EXPECTED", and exits 1 if any count differs.
// --rerun NAME: a notebook whose cell 0 loads the kit and whose cell 1 draws one chart. Runs both cells in the page,
// clears all output, saves, reloads and runs cell 1 alone in the same kernel; prints "rerun NAME drawn 1" when that
// chart is drawn (plotly.js came with no earlier output of this page), else "rerun NAME failed: WHY", and exits 1.
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", ".tools", "node_modules", "playwright-core"));

const args = process.argv.slice(2);
const rerunAt = args.indexOf("--rerun");
const rerunName = rerunAt >= 0 ? args.splice(rerunAt, 2)[1] : null;
const [base, token, ...specs] = args;
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Waits until fn (run in the page) returns a truthy value; returns it, or null after timeoutMs. */
async function until(page, fn, timeoutMs) {
  for (let waited = 0; waited < timeoutMs; waited += 500) {
    const value = await page.evaluate(fn).catch(() => null);
    if (value) return value;
    await page.waitForTimeout(500);
  }
  return null;
}

/** The clear-output, reload and re-run check of --rerun; returns null when the chart is drawn, else why not. */
async function rerun(page, url) {
  const kernelReady = () => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel &&
    Jupyter.notebook.kernel.is_connected() && Jupyter.notebook.kernel.id;
  const chartDrawn = () => Jupyter.notebook.get_cell(1).output_area.element[0]
    .querySelectorAll(".js-plotly-plot .main-svg").length > 0;
  try {
    await page.goto(url, { waitUntil: "load" });
    const kernel = await until(page, kernelReady, 180000);
    if (!kernel) return "the kernel did not start";
    await page.evaluate(() => Jupyter.notebook.execute_all_cells());
    if (!await until(page, chartDrawn, 300000)) return "the chart of the first run was not drawn";
    await page.evaluate(() => { Jupyter.notebook.clear_all_output(); return Jupyter.notebook.save_notebook(); });
    await page.reload({ waitUntil: "load" });
    const again = await until(page, kernelReady, 120000);
    if (again !== kernel) return `after the reload the kernel is ${again}, not ${kernel}`;
    if (await page.evaluate(() => typeof window.Plotly !== "undefined")) return "the reloaded page has Plotly already";
    if (await page.evaluate(() => document.querySelectorAll(".output_area").length))
      return "the outputs were not cleared";
    await page.evaluate(() => Jupyter.notebook.get_cell(1).execute());
    if (!await until(page, chartDrawn, 120000)) {
      const html = await page.evaluate(() => Jupyter.notebook.get_cell(1).output_area.element[0].innerHTML.length);
      return `the re-run chart cell was not drawn (its output has ${html} characters of HTML)`;
    }
    return null;
  } finally {
    await page.evaluate(() => Jupyter.notebook.session.delete()).catch(() => {});
  }
}

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
    if (rerunName) {
      const why = await rerun(page, `${base}/notebooks/${encodeURIComponent(rerunName)}?token=${token}`);
      if (why) { failed++; console.log(`rerun ${rerunName} failed: ${why}`); }
      else console.log(`rerun ${rerunName} drawn 1`);
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
