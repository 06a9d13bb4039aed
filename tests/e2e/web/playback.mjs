// playback.mjs - plays one of our streams in a real browser and reports what happened.
//
//   node playback.mjs --kind hls|dash --url URL [--seconds S] [--chromium PATH]
//
// Headless Chromium (Debian's, through playwright-core) loads hls.js or dash.js, plays URL muted,
// starts on the lowest rung, asks for the highest once playback has begun, and waits until the
// video has played S seconds (default: the stream's duration minus 1 s). It prints one JSON line:
// {"ok", "played", "duration", "switched_to" (heights rendered, in order), "errors", "stalls",
// "buffered" (ranges)} and exits 0 only when playback advanced to S, a quality switch to the top
// rung was rendered, no player error or gap was reported and the buffer is one range from 0.
// Stalls (waiting on a starved machine) are reported but do not fail: a gap in the stream shows
// as a hole hls.js seeks over (an error) or as a second buffered range.
// Why in a browser: MSE is stricter than ffprobe (timestamps, init segments, codec strings), and
// these are the players our dashboard and our users' players are built on.
import { chromium } from 'playwright-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const modules = join(dirname(fileURLToPath(import.meta.url)), 'node_modules');

function parseArgs(argv) {
  const a = { kind: null, url: null, seconds: 0, chromium: '/usr/bin/chromium', timeout: 60 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--kind') a.kind = v, i++;
    else if (k === '--url') a.url = v, i++;
    else if (k === '--seconds') a.seconds = Number(v), i++;
    else if (k === '--chromium') a.chromium = v, i++;
    else if (k === '--timeout') a.timeout = Number(v), i++;
    else throw new Error(`playback.mjs: unknown argument '${k}'`);
  }
  if (!['hls', 'dash'].includes(a.kind) || !a.url) throw new Error('usage: --kind hls|dash --url URL');
  return a;
}

// Runs in the page: sets up the player, records events, returns when done or failed.
async function playInPage({ kind, url, seconds, timeout }) {
  const video = document.getElementById('v');
  const report = { played: 0, duration: 0, switched_to: [], errors: [], stalls: 0, buffered: [] };
  let top = -1, lowest = -1, asked = false, started = false;
  const askTop = (set) => {
    if (!asked && started && video.currentTime > 1.0) { asked = true; set(); }
  };
  if (kind === 'hls') {
    const hls = new Hls({ startLevel: 0, debug: false });
    // A stall (the player waiting for data or a decoder on a starved machine) is counted, not failed:
    // what fails is an error, or a hole in the stream (bufferSeekOverHole, a second buffered range).
    const stallDetails = ['bufferStalledError', 'bufferNudgeOnStall'];
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (!d.fatal && stallDetails.includes(d.details)) report.stalls++;
      else report.errors.push(`${d.type}/${d.details}${d.fatal ? ' fatal' : ''}`);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
      const h = d.levels.map((l) => l.height);
      top = h.indexOf(Math.max(...h));
      lowest = h.indexOf(Math.min(...h));
      hls.currentLevel = lowest;
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => report.switched_to.push(hls.levels[d.level].height));
    video.addEventListener('timeupdate', () => askTop(() => { hls.nextLevel = top; }));
    hls.loadSource(url);
    hls.attachMedia(video);
  } else {
    const p = dashjs.MediaPlayer().create();
    const E = dashjs.MediaPlayer.events;
    p.updateSettings({
      debug: { logLevel: 0 },
      streaming: {
        abr: { autoSwitchBitrate: { video: false }, initialBitrate: { video: 1 } },
        buffer: { stableBufferTime: 2, bufferTimeAtTopQuality: 2, bufferTimeAtTopQualityLongForm: 2 },
      },
    });
    p.on(E.ERROR, (e) => report.errors.push(`error ${JSON.stringify(e.error || e).slice(0, 200)}`));
    p.on(E.PLAYBACK_ERROR, (e) => report.errors.push(`playback ${JSON.stringify(e.error || e).slice(0, 200)}`));
    p.on(E.BUFFER_EMPTY, (e) => { if (started && e.mediaType === 'video') report.stalls++; });
    p.on(E.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType === 'video') report.switched_to.push(e.newRepresentation.height);
    });
    // The lowest rung is chosen up front by a 1 kbit/s initial estimate (no later call that could
    // race the switch to the top under load).
    p.on(E.STREAM_INITIALIZED, () => {
      const h = p.getRepresentationsByType('video').map((r) => r.height);
      top = h.indexOf(Math.max(...h));
      const cur = p.getCurrentRepresentationForType('video');
      if (cur) report.switched_to.push(cur.height);
    });
    // dash.js fetches ahead quickly: the top rung is asked for as soon as the first video segment
    // arrives, so the switch lands on a later segment boundary without flushing the buffer.
    p.on(E.FRAGMENT_LOADING_COMPLETED, (e) => {
      if (!asked && top >= 0 && e.mediaType === 'video' && e.request && e.request.type === 'MediaSegment') {
        asked = true;
        p.setRepresentationForTypeByIndex('video', top);
      }
    });
    p.initialize(video, url, true);
  }
  video.addEventListener('playing', () => { started = true; });
  video.addEventListener('waiting', () => { if (started && video.currentTime < video.duration - 0.5) report.stalls++; });
  video.addEventListener('error', () => report.errors.push(`video element: ${video.error && video.error.message}`));
  const t0 = performance.now();
  await new Promise((resolve) => {
    const poll = () => {
      report.duration = video.duration || 0;
      const want = seconds > 0 ? seconds : report.duration - 1.0;
      if ((want > 0 && video.currentTime >= want) || video.ended ||
          report.errors.some((e) => e.includes('fatal') || e.startsWith('video')) ||
          performance.now() - t0 > timeout * 1000) return resolve();
      setTimeout(poll, 100);
    };
    video.play().catch((e) => report.errors.push(`play(): ${e}`));
    poll();
  });
  report.played = video.currentTime;
  for (let i = 0; i < video.buffered.length; i++) report.buffered.push([video.buffered.start(i), video.buffered.end(i)]);
  return report;
}

async function main() {
  const a = parseArgs(process.argv);
  const browser = await chromium.launch({
    executablePath: a.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  let report;
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.setContent('<!doctype html><video id="v" muted playsinline></video>');
    const lib = join(modules, a.kind === 'hls' ? 'hls.js/dist/hls.min.js' : 'dashjs/dist/modern/umd/dash.all.min.js');
    await page.addScriptTag({ path: lib });
    report = await page.evaluate(playInPage, { kind: a.kind, url: a.url, seconds: a.seconds, timeout: a.timeout });
  } finally {
    await browser.close();
  }
  const want = a.seconds > 0 ? a.seconds : report.duration - 1.0;
  const topHeight = Math.max(...report.switched_to, 0);
  const problems = [];
  if (!(report.played >= want - 0.05) || want <= 0) problems.push(`played ${report.played.toFixed(2)} s of ${want.toFixed(2)}`);
  if (report.switched_to.length < 2 || report.switched_to[report.switched_to.length - 1] !== topHeight ||
      report.switched_to[0] === topHeight) problems.push(`no switch from the lowest to the top rung: ${report.switched_to}`);
  if (report.errors.length) problems.push(`player errors: ${report.errors.join('; ')}`);
  if (report.buffered.length !== 1 || report.buffered[0][0] > 0.1) problems.push(`buffered ranges ${JSON.stringify(report.buffered)}`);
  report.ok = problems.length === 0;
  report.problems = problems;
  console.log(JSON.stringify(report));
  process.exit(report.ok ? 0 : 1);
}

main().catch((e) => { console.log(JSON.stringify({ ok: false, problems: [String(e && e.stack || e)] })); process.exit(2); });
