// The node's dashboard: polls status, api/history and api/events and draws them. Everything that comes from the node
// (ids, reasons, tool names) goes into the page as text (textContent, attributes), never as HTML.
'use strict';

(() => {
  const POLL_MS = 1500;
  const SVG = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'snakepit-token';
  const token = readToken();
  const pools = new Map(); // pool name -> its section's parts
  let historyJson = null;
  let historyAt = 0;
  let eventsKey = null; // what the events table shows: redrawn only when it changes
  let failingSince = null;

  // The gateway's token for a node that wants one: from the address's fragment (#token=...), which never reaches
  // the server or its logs; kept for this tab only, and taken out of the address bar.
  function readToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      window.history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function getJson(path) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const r = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
    if (!r.ok) {
      const text = (await r.text()).trim();
      const e = new Error(path + ': HTTP ' + r.status + (text ? ': ' + text : ''));
      e.status = r.status;
      throw e;
    }
    return r.json();
  }

  async function tick() {
    try {
      const wantHistory = historyJson === null
          || Date.now() - historyAt >= Math.max(1000, Math.min(5000, historyJson.intervalSeconds * 1000));
      // Each part is drawn from what did answer; any that did not puts up the banner.
      const [status, events, hist] = await Promise.allSettled([getJson('status'), getJson('api/events'),
          wantHistory ? getJson('api/history') : Promise.resolve(historyJson)]);
      if (wantHistory && hist.status === 'fulfilled') {
        historyJson = hist.value;
        historyAt = Date.now();
      }
      if (status.status === 'fulfilled') {
        renderStatus(status.value);
      }
      if (events.status === 'fulfilled') {
        renderEventsIfNew(events.value);
      }
      const failure = [status, events, hist].find(r => r.status === 'rejected');
      if (failure) {
        failed(failure.reason);
      } else {
        answered(status.value);
      }
    } catch (e) {
      failed(e);
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }

  function answered(status) {
    failingSince = null;
    document.body.classList.remove('stale');
    const banner = document.getElementById('banner');
    banner.hidden = true;
    banner.textContent = '';
    text(document.getElementById('updated'), 'updated ' + clock(new Date()) + ' (node time ' + timeOfDay(status.time)
        + ' UTC)');
  }

  function failed(e) {
    if (failingSince === null) {
      failingSince = new Date();
    }
    document.body.classList.add('stale');
    const banner = document.getElementById('banner');
    let message;
    if (e.status === 401) {
      message = (token ? 'The node refuses the token this page has (a node makes a new one at every start). '
          : 'The node serves its figures only with its token. ')
          + 'Open this page as ' + location.origin + location.pathname
          + '#token=TOKEN, TOKEN being the contents of the token file that serve\'s ready: line names.';
    } else if (e.status === 503) {
      message = 'The node is not ready to answer: ' + e.message;
    } else if (e.status) {
      message = 'The node answers with an error since ' + clock(failingSince) + ': ' + e.message;
    } else {
      // fetch itself failed: nothing answers at this address (stopped, unreachable, or restarting).
      message = 'The node is not answering since ' + clock(failingSince) + ' (' + e.message
          + '). The page tries again every ' + POLL_MS / 1000 + ' s; what it shows is from before.';
    }
    text(banner, message);
    banner.hidden = false;
  }

  function renderStatus(status) {
    text(document.getElementById('instance'), status.instance);
    document.title = 'Snakepit ' + status.instance;
    const seen = new Set();
    const container = document.getElementById('pools');
    for (const pool of status.pools) {
      seen.add(pool.name);
      let parts = pools.get(pool.name);
      if (!parts) {
        parts = poolSection(pool.name);
        pools.set(pool.name, parts);
        container.appendChild(parts.section);
      }
      renderPool(parts, pool, historyJson ? (historyJson.pools || []).find(p => p.name === pool.name) : null);
    }
    for (const [name, parts] of pools) {
      if (!seen.has(name)) {
        parts.section.remove();
        pools.delete(name);
      }
    }
  }

  function renderEventsIfNew(events) {
    const key = events.seen + ' ' + (events.events.length ? events.events[0].time : '');
    if (key !== eventsKey) {
      eventsKey = key;
      renderEvents(events);
    }
  }

  function poolSection(name) {
    const section = el('section', 'pool');
    section.dataset.pool = name;
    section.appendChild(el('h2', null, 'Pool ' + name));
    const facts = el('div', 'facts');
    const fact = (key, label) => {
      const f = el('span', 'fact');
      f.appendChild(el('span', 'label', label));
      const v = el('span', 'value');
      v.dataset.fact = key;
      f.appendChild(v);
      facts.appendChild(f);
      return v;
    };
    const parts = {
      section,
      size: fact('size', 'workers'),
      queued: fact('queued', 'queued'),
      circuit: fact('circuit', 'circuit'),
      calls: fact('calls', 'calls in the charts'),
      rate: fact('rate', 'calls/s now'),
    };
    section.appendChild(facts);
    const charts = el('div', 'charts');
    parts.rateChart = chart(charts, 'rate', 'calls per second',
        [['calls', 'all calls'], ['failed', 'not ok']]);
    parts.latencyChart = chart(charts, 'latency', 'latency, ms',
        [['p50', 'p50'], ['p99', 'p99']]);
    section.appendChild(charts);
    const table = el('table', 'workers');
    const head = el('tr');
    for (const [label, num] of [['worker', false], ['slot', true], ['state', false], ['pid', true],
        ['shim pid', true], ['calls', true], ['failed', true], ['RSS', true], ['CPU', true], ['health', true],
        ['uptime', true], ['last exit in this slot', false]]) {
      head.appendChild(el('th', num ? 'num' : null, label));
    }
    table.appendChild(el('thead')).appendChild(head);
    parts.workers = table.appendChild(el('tbody'));
    section.appendChild(table);
    return parts;
  }

  function chart(parent, kind, title, series) {
    const figure = el('figure');
    const caption = el('figcaption', null, title);
    for (const [cls, label] of series) {
      caption.appendChild(el('span', 'swatch s-' + cls));
      caption.appendChild(document.createTextNode(label));
    }
    figure.appendChild(caption);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'chart ' + kind);
    figure.appendChild(svg);
    parent.appendChild(figure);
    return svg;
  }

  function renderPool(parts, pool, hist) {
    text(parts.size, String(pool.size));
    text(parts.queued, String(pool.queued));
    parts.circuit.replaceChildren(el('span', pool.circuitOpen ? 'badge open' : 'badge',
        pool.circuitOpen ? 'open' : 'closed'));
    const samples = hist ? hist.samples : [];
    let total = 0;
    for (const s of samples) {
      total += Object.values(s.calls).reduce((a, b) => a + b, 0);
    }
    text(parts.calls, String(total));
    parts.calls.dataset.total = String(total);
    const last = samples.length ? samples[samples.length - 1].callsPerSecond : 0;
    text(parts.rate, last.toFixed(1));
    const notOk = s => s.calls.error + s.calls.timeout + s.calls.cancelled + s.calls.failed;
    draw(parts.rateChart, samples, [
      ['calls', s => s.callsPerSecond],
      ['failed', s => s.callsPerSecond * (notOk(s) / Math.max(1, notOk(s) + s.calls.ok))],
    ], '/s');
    draw(parts.latencyChart, samples, [['p50', s => s.latencyMs.p50], ['p99', s => s.latencyMs.p99]], ' ms');
    const rows = [];
    for (const w of [...pool.workers].sort((a, b) => a.slot - b.slot || cmp(a.id, b.id))) {
      rows.push(workerRow(w));
    }
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'empty', 'no workers');
      td.colSpan = 12;
      tr.appendChild(td);
      rows.push(tr);
    }
    parts.workers.replaceChildren(...rows);
  }

  function workerRow(w) {
    const tr = el('tr', 'worker');
    tr.dataset.worker = w.id;
    tr.dataset.slot = String(w.slot);
    // A worker still starting has no Python yet: its pid reads 0 (or null).
    tr.dataset.pid = w.pid ? String(w.pid) : '';
    tr.dataset.state = w.state;
    cell(tr, w.id, 'mono');
    cell(tr, String(w.slot), 'num');
    cell(tr, w.state, 'state-' + w.state);
    cell(tr, w.pid ? String(w.pid) : '–', 'num mono');
    cell(tr, w.shimPid ? String(w.shimPid) : '–', 'num mono');
    cell(tr, w.calls == null ? '–' : String(w.calls), 'num');
    cell(tr, w.failed == null ? '–' : String(w.failed), 'num');
    cell(tr, w.rssBytes == null || !w.pid ? '–' : (w.rssBytes / 1048576).toFixed(1) + ' MiB', 'num');
    cell(tr, w.cpuPercent == null || !w.pid ? '–' : w.cpuPercent.toFixed(1) + ' %', 'num');
    const health = cell(tr, w.health == null ? '–' : Math.round(w.health * 100) + ' %',
        'num ' + (w.health == null ? '' : w.health >= 0.8 ? 'health-good' : w.health >= 0.5 ? 'health-warn'
            : 'health-bad'));
    if (w.healthFactors) {
      health.title = Object.entries(w.healthFactors).map(([k, v]) => k + ' ' + Number(v).toFixed(2)).join(', ')
          + (w.healthWhy ? ': ' + w.healthWhy : '');
    }
    cell(tr, w.uptimeSeconds == null ? '–' : duration(w.uptimeSeconds), 'num');
    const exit = w.lastExit;
    cell(tr, exit ? exit.worker + ': ' + exit.reason + (exit.status ? ' (' + exit.status + ')' : '')
        + (exit.time ? ', ' + timeOfDay(exit.time) : '') : '–', exit ? 'mono' : null);
    return tr;
  }

  function renderEvents(events) {
    text(document.getElementById('events-count'), events.events.length + ' newest of ' + events.seen
        + ' since the node started');
    const rows = events.events.map(e => {
      const tr = el('tr', 'event' + (e.event === 'WorkerExited' ? ' exit' : ''));
      tr.dataset.event = e.event;
      tr.dataset.worker = e.worker == null ? '' : e.worker;
      tr.dataset.pid = e.pid == null ? '' : String(e.pid);
      const time = cell(tr, timeOfDay(e.time), 'mono');
      time.title = e.time;
      cell(tr, e.event, 'name');
      cell(tr, e.pool == null ? '' : e.pool);
      cell(tr, e.worker == null ? '' : e.worker, 'mono');
      const pids = [];
      if (e.pid) pids.push('pid ' + e.pid);
      if (e.shim_pid) pids.push('shim ' + e.shim_pid);
      if (Array.isArray(e.processes) && e.processes.length) pids.push('signalled ' + e.processes.join(' '));
      cell(tr, pids.join(', '), 'mono');
      const details = Object.entries(e)
          .filter(([k]) => !['time', 'event', 'instance', 'pool', 'worker', 'pid', 'shim_pid', 'processes']
              .includes(k))
          .map(([k, v]) => k + '=' + (typeof v === 'string' ? v : JSON.stringify(v)));
      cell(tr, details.join(' '));
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'empty', 'none yet');
      td.colSpan = 6;
      tr.appendChild(td);
      rows.push(tr);
    }
    document.querySelector('#events tbody').replaceChildren(...rows);
  }

  // A line chart of the samples over the whole history window (x: time, the node's now at the right), one path per
  // series, broken where a value is missing; the y axis starts at 0 and ends at a round number.
  function draw(svg, samples, series, unit) {
    // Drawn at the size it is shown, so that its text is not stretched.
    const W = Math.max(200, Math.round(svg.getBoundingClientRect().width) || 600), H = 150, L = 44, R = 6, T = 8,
        B = 18;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const span = historyJson ? historyJson.historySeconds * 1000 : 900000;
    const end = historyJson ? Date.parse(historyJson.time) : Date.now();
    const x = t => L + (W - L - R) * Math.max(0, 1 - (end - t) / span);
    let peak = 0;
    const lines = series.map(([cls, value]) => {
      const points = samples.map(s => [Date.parse(s.time), value(s)]);
      for (const [, v] of points) {
        if (v != null && v > peak) peak = v;
      }
      return [cls, points];
    });
    const top = niceCeiling(peak);
    const y = v => T + (H - T - B) * (1 - v / top);
    const nodes = [];
    for (const v of [0, top / 2, top]) {
      nodes.push(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      nodes.push(svgEl('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, format(v) + unit));
    }
    nodes.push(svgEl('text', { x: L, y: H - 4 }, '−' + Math.round(span / 60000) + ' min'));
    nodes.push(svgEl('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, 'now'));
    for (const [cls, points] of lines) {
      let d = '';
      let run = 0; // points in the current stretch: a lone one is drawn as a dot
      let last = null;
      for (const [t, v] of [...points, [0, null]]) {
        if (v == null) {
          if (run === 1) nodes.push(svgEl('circle', { class: 's-' + cls, cx: last[0], cy: last[1], r: 1.5 }));
          run = 0;
          continue;
        }
        last = [x(t).toFixed(1), y(v).toFixed(1)];
        d += (run ? 'L' : 'M') + last[0] + ' ' + last[1];
        run++;
      }
      if (d) nodes.push(svgEl('path', { class: 's-' + cls, d }));
    }
    svg.replaceChildren(...nodes);
    svg.dataset.peak = String(peak);
    svg.dataset.samples = String(samples.length);
  }

  function niceCeiling(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) {
      if (v <= m * p) return m * p;
    }
    return 10 * p;
  }

  function format(v) {
    if (v === 0) return '0';
    return v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
  }

  function duration(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor(s / 3600) % 24 + ' h';
  }

  function timeOfDay(iso) {
    const m = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(iso || '');
    return m ? m[1] : String(iso);
  }

  function clock(date) {
    return date.toTimeString().slice(0, 8);
  }

  function cmp(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content != null) e.textContent = content;
    return e;
  }

  function cell(tr, content, cls) {
    return tr.appendChild(el('td', cls, content));
  }

  function text(node, content) {
    if (node.textContent !== content) node.textContent = content;
  }

  function svgEl(tag, attrs, content) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (content != null) e.textContent = content;
    return e;
  }

  tick();
})();
