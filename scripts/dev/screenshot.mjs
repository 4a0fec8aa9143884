import { chromium } from 'playwright-core';
const [url, out, w = '900', h = '800'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage({ viewport: { width: Number(w), height: Number(h) } });
const errors = [];
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
await page.goto(url);
if (process.env.SUBMIT) { await page.fill('#email', 'x'); await page.fill('#password', 'short'); await page.click('button[type=submit]'); await page.waitForLoadState(); }
await page.screenshot({ path: out, fullPage: true });
console.log('console errors:', errors);
await browser.close();
