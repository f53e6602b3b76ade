// The sensor's web view: served by `sensor serve` at / (data from the API) and inlined by `sensor report`
// into one HTML file (data embedded as JSON in #report-data). Plain browser JavaScript, no build step;
// charts by chart.js, served from the package itself.
'use strict';
(function () {
  /* global Chart */
  const $ = (sel) => document.querySelector(sel);
  const embedded = document.getElementById('report-data');
  const REPORT = embedded ? JSON.parse(embedded.textContent) : null;
  const REFRESH_MS = 30000;
  const PAGE = 100;
  const TOKEN_KEY = 'sensor-api-token';

  /** Charts by name, for the page's own updates and for tests (window.sensorView). */
  const charts = {};
  const view = { charts, mode: REPORT ? 'report' : 'live', flowsShown: 0, errors: [] };
  window.sensorView = view;

  // ---- formatting ---------------------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, '0');
  function utc(ts, withSeconds) {
    const d = new Date(ts * 1000);
    const s = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return withSeconds ? `${s}:${pad(d.getUTCSeconds())}` : s;
  }
  function bucketLabel(ts, step) {
    const d = new Date(ts * 1000);
    if (step >= 86400) return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    if (step >= 60) return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  }
  function bytes(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
  }
  function count(n) { return n.toLocaleString('en-US'); }
  function pct(x) { return x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`; }
  function endpoint(ip, port) { return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`; }

  // Stable colours: the same application gets the same colour on every chart and every load.
  const PALETTE = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#d53f8c', '#319795', '#d69e2e', '#e53e3e', '#3182ce', '#718096',
    '#2f855a', '#b7791f', '#6b46c1', '#c05621', '#2c7a7b', '#97266d', '#4a5568', '#9c4221', '#276749', '#553c9a'];
  function colour(label) {
    if (label === 'other') return '#a0aec0';
    if (label === 'unknown') return '#4a5568';
    if (label === 'no-payload') return '#cbd5e0';
    let h = 0;
    for (let i = 0; i < label.length; i++) h = (h * 31 + label.charCodeAt(i)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }

  // ---- data access: the API, or the report's embedded copy -----------------------------------------------
  function showError(msg) {
    view.errors.push(msg);
    const el = $('#error');
    el.textContent = msg;
    el.hidden = false;
  }
  async function api(path) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, { headers });
    if (res.status === 401) {
      $('#token').hidden = false;
      throw new Error('this API needs its bearer token');
    }
    const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) throw new Error(`${path.split('?')[0]}: ${body.error || res.status}`);
    return body;
  }
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  const range = { from: '', to: '' };
  const source = REPORT
    ? {
        summary: async () => REPORT.summary,
        model: async () => REPORT.model,
        monitor: async () => REPORT.monitor,
        flows: async (filter) => reportFlows(filter),
      }
    : {
        summary: () => api(`/v1/summary${query(range)}`),
        model: () => api('/v1/model').catch(() => null),
        monitor: () => api('/v1/monitor'),
        flows: (filter) => api(`/v1/flows${query({ ...range, ...filter, limit: PAGE })}`),
      };

  /** The report filters its embedded latest flows the way GET /v1/flows filters the database. */
  function reportFlows(filter) {
    const port = filter.port === undefined || filter.port === '' ? null : Number(filter.port);
    const flows = REPORT.flows.filter((f) =>
      (!filter.label || f.label === filter.label) &&
      (!filter.verdict || f.verdict === filter.verdict) &&
      (!filter.address || f.client_ip === filter.address || f.server_ip === filter.address) &&
      (port === null || f.client_port === port || f.server_port === port) &&
      (!filter.conn_state || f.conn_state === filter.conn_state) &&
      (!filter.end_reason || f.end_reason === filter.end_reason) &&
      (!filter.before || f.id < Number(filter.before)));
    return { flows: flows.slice(0, PAGE), next: flows.length > PAGE ? flows[PAGE - 1].id : null };
  }

  /** Series that are not an application: the rest, and the verdict statuses. */
  const STATUS = new Set(['other', 'unknown', 'no-payload', 'classify-error', 'unclassified']);

  // ---- charts ---------------------------------------------------------------------------------------------
  Chart.defaults.animation = false;
  Chart.defaults.font.size = 11;
  Chart.defaults.maintainAspectRatio = false;

  function draw(name, config) {
    if (charts[name]) charts[name].destroy();
    const canvas = document.querySelector(`canvas[data-chart="${name}"]`);
    charts[name] = new Chart(canvas, config);
  }

  let lastSummary = null;
  function drawApps(s) {
    const measure = $('#apps-measure').value;
    const labels = s.buckets.map((t) => bucketLabel(t, s.bucket_seconds));
    draw('apps', {
      type: 'bar',
      data: {
        labels,
        datasets: s.labels.map((l) => ({ label: l.label, data: measure === 'bytes' ? l.bytes : l.flows, backgroundColor: colour(l.label), stack: 'apps' })),
      },
      options: {
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: measure }, ticks: { callback: (v) => (measure === 'bytes' ? bytes(v) : count(v)) } },
        },
        plugins: { legend: { position: 'right' }, tooltip: { mode: 'index', intersect: false } },
      },
    });
  }

  function drawSummary(s) {
    lastSummary = s;
    const t = s.totals;
    const facts = [
      ['flows', count(t.flows)],
      ['bytes', bytes(t.bytes)],
      ['unknown', pct(t.unknown_share)],
      ['applications', String(s.labels.filter((l) => !STATUS.has(l.label)).length + (s.labels.some((l) => l.label === 'other') ? '+' : ''))],
      ['range', s.from === null ? 'empty' : `${utc(s.from)} - ${utc(s.to)} UTC`],
    ];
    $('#facts').replaceChildren(...facts.map(([k, v]) => {
      const span = document.createElement('span');
      span.append(`${k} `);
      const b = document.createElement('b');
      b.textContent = v;
      span.append(b);
      return span;
    }));
    const list = $('#labels');
    list.replaceChildren(...s.labels.filter((l) => l.label !== 'other').map((l) => Object.assign(document.createElement('option'), { value: l.label })));

    drawApps(s);
    const buckets = s.buckets.map((b) => bucketLabel(b, s.bucket_seconds));
    draw('talkers', {
      type: 'bar',
      data: { labels: s.top_talkers.map((x) => x.ip), datasets: [{ label: 'bytes', data: s.top_talkers.map((x) => x.bytes), backgroundColor: '#2b6cb0' }] },
      options: {
        indexAxis: 'y',
        scales: { x: { beginAtZero: true, ticks: { callback: (v) => bytes(v) } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${bytes(c.raw)}, ${count(s.top_talkers[c.dataIndex].flows)} flows` } } },
      },
    });
    draw('services', {
      type: 'bar',
      data: {
        labels: s.top_services.map((x) => `${endpoint(x.server_ip, x.server_port)} ${x.label}`),
        datasets: [{ label: 'flows', data: s.top_services.map((x) => x.flows), backgroundColor: s.top_services.map((x) => colour(x.label)) }],
      },
      options: {
        indexAxis: 'y',
        scales: { x: { beginAtZero: true } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${count(c.raw)} flows, ${bytes(s.top_services[c.dataIndex].bytes)}` } } },
      },
    });
    draw('unknown', {
      type: 'line',
      data: {
        labels: buckets,
        datasets: [{ label: 'unknown share', data: s.unknown_share.map((x) => (x === null ? null : 100 * x)), borderColor: '#4a5568', backgroundColor: 'rgba(74,85,104,0.15)', fill: true, spanGaps: false, pointRadius: 2 }],
      },
      options: {
        scales: { y: { beginAtZero: true, suggestedMax: 100, ticks: { callback: (v) => `${v}%` } }, x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${c.raw === null ? 'n/a' : c.raw.toFixed(1) + '%'} of ${count(s.scored_flows[c.dataIndex])} scored flows` } } },
      },
    });
    const edges = s.confidence.edges;
    const bins = edges.slice(0, -1).map((e, i) => `${e.toFixed(1)}-${edges[i + 1].toFixed(1)}`);
    draw('confidence', {
      type: 'bar',
      data: {
        labels: buckets,
        datasets: bins.map((name, i) => ({
          label: name,
          data: s.confidence.over_time.map((row) => {
            const total = row.reduce((a, b) => a + b, 0);
            return total > 0 ? (100 * row[i]) / total : 0;
          }),
          // Low confidence warm, high confidence cool.
          backgroundColor: `hsl(${20 + i * 18}, 65%, ${62 - i * 2}%)`,
          stack: 'confidence',
        })),
      },
      options: {
        scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 12 } }, y: { stacked: true, max: 100, beginAtZero: true, ticks: { callback: (v) => `${v}%` } } },
        plugins: { legend: { position: 'right', reverse: true }, tooltip: { mode: 'index', intersect: false } },
      },
    });
  }

  // ---- monitoring (drift, accuracy): whatever monitor tables the database has ---------------------------
  const TIME_COLUMN = /(^|_)(ts|time|start|hour|window|bucket)(_|$)/i;
  function drawMonitor(m) {
    const body = $('#monitor-body');
    for (const name of Object.keys(charts)) if (name.startsWith('monitor:')) { charts[name].destroy(); delete charts[name]; }
    if (!m || m.tables.length === 0) {
      body.className = 'note';
      body.textContent = 'No drift or accuracy records in this database yet: they appear here when the sensor\'s monitoring writes them (monitor tables).';
      return;
    }
    body.className = 'monitor-grid';
    body.replaceChildren();
    for (const table of m.tables) {
      const rows = table.rows.slice().reverse();
      const timeCol = table.columns.find((c) => TIME_COLUMN.test(c.name));
      // Other time columns (window_end) are not series.
      const numeric = table.columns.filter((c) => c !== timeCol && !TIME_COLUMN.test(c.name) && rows.some((r) => typeof r[c.name] === 'number') && !/(^id$|_id$|count$|^n_)/.test(c.name));
      const card = document.createElement('div');
      const h = document.createElement('h2');
      h.textContent = table.name;
      card.append(h);
      if (rows.length === 0 || numeric.length === 0) {
        card.append(Object.assign(document.createElement('div'), { className: 'note', textContent: 'no rows yet' }));
        body.append(card);
        continue;
      }
      const wrap = Object.assign(document.createElement('div'), { className: 'chart' });
      const canvas = document.createElement('canvas');
      canvas.dataset.chart = `monitor:${table.name}`;
      wrap.append(canvas);
      card.append(wrap);
      body.append(card);
      const x = rows.map((r, i) => {
        const v = timeCol ? r[timeCol.name] : i;
        return typeof v === 'number' && v > 1e8 ? utc(v) : String(v);
      });
      // Shares and scores (every value within 0..1) on the left axis, counts and the like on the right.
      const isShare = (c) => rows.every((r) => typeof r[c.name] !== 'number' || (r[c.name] >= 0 && r[c.name] <= 1));
      const series = numeric.slice(0, 8);
      const anyCount = series.some((c) => !isShare(c));
      draw(`monitor:${table.name}`, {
        type: 'line',
        data: {
          labels: x,
          datasets: series.map((c) => ({ label: c.name, data: rows.map((r) => r[c.name]), borderColor: colour(c.name), backgroundColor: colour(c.name), pointRadius: 1, yAxisID: isShare(c) ? 'y' : 'y1' })),
        },
        options: {
          scales: {
            x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } },
            y: { position: 'left', beginAtZero: true, display: series.some(isShare) },
            y1: { position: 'right', beginAtZero: true, display: anyCount, grid: { drawOnChartArea: false } },
          },
        },
      });
    }
  }

  // ---- the flows table ----------------------------------------------------------------------------------
  let filter = {};
  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
  function renderFlows(page, append) {
    const tbody = $('#flows tbody');
    if (!append) tbody.replaceChildren();
    for (const f of page.flows) {
      const tr = document.createElement('tr');
      tr.className = `v-${f.verdict}`;
      tr.dataset.id = String(f.id);
      cell(tr, utc(f.first_ts, true));
      cell(tr, endpoint(f.client_ip, f.client_port));
      cell(tr, endpoint(f.server_ip, f.server_port));
      cell(tr, f.conn_state);
      cell(tr, f.history);
      cell(tr, f.end_reason);
      cell(tr, f.label, 'label');
      cell(tr, f.verdict === 'classified' || f.verdict === 'unknown' ? f.confidence.toFixed(3) : '', 'num');
      cell(tr, (f.topk_labels || []).map((l, i) => `${l} ${Number(f.topk_scores[i]).toFixed(2)}`).join(', '), 'topk');
      cell(tr, bytes(f.c2s_bytes + f.s2c_bytes), 'num');
      cell(tr, count(f.c2s_packets + f.s2c_packets), 'num');
      cell(tr, `${f.duration.toFixed(2)} s`, 'num');
      tbody.append(tr);
    }
    view.flowsShown = tbody.children.length;
    $('#flows-count').textContent = `${count(view.flowsShown)} flows shown`;
    const older = $('#older');
    older.hidden = page.next === null;
    older.dataset.before = page.next === null ? '' : String(page.next);
  }
  async function loadFlows(append) {
    const f = { ...filter };
    if (append) f.before = $('#older').dataset.before;
    renderFlows(await source.flows(f), append);
  }

  // ---- wiring ----------------------------------------------------------------------------------------------
  async function loadAll() {
    const [summary, model, monitor] = await Promise.all([source.summary(), source.model(), source.monitor()]);
    drawSummary(summary);
    drawMonitor(monitor);
    await loadFlows(false);
    const foot = [];
    if (model) foot.push(`model ${model.version} (${model.classes.length} classes, unknown below ${model.rules.unknown_threshold})`);
    if (REPORT) foot.push(`report made ${REPORT.generated} from ${REPORT.db}; the table holds the latest ${count(REPORT.flows.length)} flows`);
    $('#footer').textContent = foot.join(' · ');
  }

  $('#apps-measure').addEventListener('change', () => lastSummary && drawApps(lastSummary));
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    filter = {};
    for (const [k, v] of data.entries()) if (String(v).trim() !== '') filter[k] = String(v).trim();
    loadFlows(false).catch((err) => showError(err.message));
  });
  $('#filters').addEventListener('reset', () => {
    filter = {};
    setTimeout(() => loadFlows(false).catch((err) => showError(err.message)), 0);
  });
  $('#older').addEventListener('click', () => loadFlows(true).catch((err) => showError(err.message)));

  if (REPORT) {
    $('#range').hidden = true;
  } else {
    $('#range').addEventListener('submit', (e) => {
      e.preventDefault();
      const data = new FormData(e.target);
      range.from = String(data.get('from') || '').trim();
      range.to = String(data.get('to') || '').trim();
      refresh();
    });
    for (const b of document.querySelectorAll('#range button[data-last]')) {
      b.addEventListener('click', () => {
        const last = Number(b.dataset.last);
        range.from = last > 0 ? String(Math.floor(Date.now() / 1000) - last) : '';
        range.to = '';
        $('#range [name=from]').value = range.from ? new Date(Number(range.from) * 1000).toISOString().slice(0, 19) + 'Z' : '';
        $('#range [name=to]').value = '';
        refresh();
      });
    }
    $('#token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, String(new FormData(e.target).get('token') || ''));
      $('#token').hidden = true;
      $('#error').hidden = true;
      refresh();
    });
    setInterval(() => { if (!document.hidden && $('#token').hidden) refresh(); }, REFRESH_MS);
  }

  function refresh() {
    return loadAll().then(
      () => { document.body.dataset.state = 'ready'; },
      (err) => { showError(err.message); document.body.dataset.state = 'error'; },
    );
  }
  refresh();
})();
