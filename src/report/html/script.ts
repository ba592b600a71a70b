/**
 * The report page's script, inlined as plain JavaScript (no build step). It reads the embedded data and builds the
 * charts and tables; every string from the plan goes in as text (textContent, attributes), never as markup.
 */
import { CHARTS } from './charts.js';

export const SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('imgsweep-data').textContent);
  // ID and text cells are indexes into data.strings; times are seconds before the plan (see pack.ts).
  var strings = data.strings;
  // The SVG namespace, taken from an element the parser made (the page names no URL).
  var probe = document.createElement('div');
  probe.innerHTML = '<svg></svg>';
  var SVG_NS = probe.firstChild.namespaceURI;
  var FATES = ['deleted', 'untagged', 'kept'];
  var COLOURS = { deleted: '#c0392b', untagged: '#d68910', kept: '#5d7fb9', reclaim: '#c0392b', keptbytes: '#5d7fb9', after: '#27ae60' };
  var PAGE = 200;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG_NS, tag);
    for (var k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function titled(node, text) {
    node.appendChild(svg('title', {}, text));
    return node;
  }
  function bytes(n) {
    if (n === null || n === undefined) return 'unknown';
    var units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
    var v = n, i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return i === 0 ? v + ' B' : (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
  }
  function count(n) { return Number(n).toLocaleString('en-US'); }
  function ago(seconds) {
    var s = Math.max(0, seconds);
    if (s < 60) return 'now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 172800) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
${CHARTS}
  // The text a row is searched by, lower case: its ID, text and reference cells.
  function haystack(columns, row) {
    var parts = [];
    for (var c = 0; c < columns.length; c++) {
      var type = columns[c].type;
      if (type === 'id' || type === 'text') parts.push(strings[row[c]]);
      else if (type === 'refs') parts.push(row[c].join(' '));
    }
    return parts.join('\n').toLowerCase();
  }
  // At most three references, then a count (all of them in the cell's title).
  function refsText(refs) {
    if (refs.length === 0) return '<none>';
    return refs.slice(0, 3).join(', ') + (refs.length > 3 ? ' (+' + (refs.length - 3) + ' more)' : '');
  }
  function cell(type, value, now) {
    var td = el('td');
    if (type === 'id') { td.className = 'id'; td.textContent = strings[value].slice(0, 12); td.title = strings[value]; }
    else if (type === 'text') td.textContent = strings[value];
    else if (type === 'refs') { td.textContent = refsText(value); td.title = value.join('\n'); }
    else if (type === 'bytes') { td.className = 'num'; td.textContent = bytes(value); }
    else if (type === 'time' && value !== null) { td.className = 'num'; td.textContent = ago(value); td.title = new Date(now - value * 1000).toISOString(); }
    return td;
  }
  // Ascending: text in code-point order, sizes smallest first, times earliest first; empty cells last.
  function compare(type, a, b) {
    if (type === 'refs') { a = a[0] === undefined ? null : a[0]; b = b[0] === undefined ? null : b[0]; }
    else if (type === 'id' || type === 'text') { a = strings[a]; b = strings[b]; }
    else if (type === 'time') { a = a === null ? null : -a; b = b === null ? null : -b; }
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    return a < b ? -1 : 1;
  }

  var tables = [];
  function table(t, now) {
    var state = { t: t, now: now, rows: t.rows, hay: null, shown: t.rows, limit: PAGE, sort: -1, dir: 1 };
    var box = el('details', { 'class': 'table', 'data-table': t.key });
    // The steps open; kept images folded, as in the Markdown report (their count is in the summary line).
    if (t.key !== 'kept' && t.rows.length > 0) box.open = true;
    var summary = el('summary');
    box.appendChild(summary);
    var tbl = el('table');
    var head = el('tr');
    t.columns.forEach(function (c, i) {
      var th = el('th', { scope: 'col', 'class': c.type === 'bytes' || c.type === 'time' ? 'num' : '' });
      var b = el('button', { type: 'button' }, c.name);
      b.addEventListener('click', function () { sortBy(state, i); });
      th.appendChild(b);
      head.appendChild(th);
    });
    var thead = el('thead');
    thead.appendChild(head);
    tbl.appendChild(thead);
    state.body = el('tbody');
    tbl.appendChild(state.body);
    box.appendChild(tbl);
    state.more = el('div', { 'class': 'more' });
    box.appendChild(state.more);
    state.summary = summary;
    state.head = head;
    tables.push(state);
    draw(state);
    return box;
  }
  function sortBy(state, i) {
    state.dir = state.sort === i ? -state.dir : 1;
    state.sort = i;
    var type = state.t.columns[i].type;
    var order = state.rows.map(function (_, k) { return k; });
    order.sort(function (x, y) { return state.dir * compare(type, state.rows[x][i], state.rows[y][i]) || x - y; });
    var hay = state.hay;
    state.rows = order.map(function (k) { return state.rows[k]; });
    state.hay = hay && order.map(function (k) { return hay[k]; });
    Array.prototype.forEach.call(state.head.children, function (th, k) {
      if (k === i) th.setAttribute('aria-sort', state.dir === 1 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    });
    filter(state);
  }
  var words = [];
  function filter(state) {
    if (words.length > 0 && state.hay === null) state.hay = state.rows.map(function (row) { return haystack(state.t.columns, row); });
    state.shown = words.length === 0 ? state.rows : state.rows.filter(function (_, k) {
      var h = state.hay[k];
      for (var w = 0; w < words.length; w++) if (h.indexOf(words[w]) === -1) return false;
      return true;
    });
    state.limit = PAGE;
    draw(state);
  }
  function draw(state) {
    var t = state.t;
    var frag = document.createDocumentFragment();
    var n = Math.min(state.limit, state.shown.length);
    for (var r = 0; r < n; r++) {
      var tr = document.createElement('tr');
      var row = state.shown[r];
      for (var c = 0; c < t.columns.length; c++) tr.appendChild(cell(t.columns[c].type, row[c], state.now));
      frag.appendChild(tr);
    }
    state.body.replaceChildren(frag);
    state.summary.textContent = t.title + ' (' + (state.shown.length === t.rows.length ? count(t.rows.length) : count(state.shown.length) + ' of ' + count(t.rows.length)) + ')';
    state.more.replaceChildren();
    if (state.shown.length === 0) state.more.textContent = t.rows.length === 0 ? 'None.' : 'No row matches the search.';
    else if (n < state.shown.length) {
      state.more.textContent = 'Showing ' + count(n) + ' of ' + count(state.shown.length) + '.';
      var b = el('button', { type: 'button' }, 'Show ' + count(Math.min(PAGE, state.shown.length - n)) + ' more');
      b.addEventListener('click', function () { state.limit += PAGE; draw(state); });
      state.more.appendChild(b);
    }
  }

  function card(value, label) {
    var c = el('div', { 'class': 'card' });
    c.appendChild(el('b', {}, value));
    c.appendChild(el('span', {}, label));
    return c;
  }
  function section(s, i) {
    var root = el('section', { 'class': 'engine', id: 'engine-' + i });
    root.appendChild(el('h2', {}, 'Engine ' + s.engine));
    root.appendChild(el('p', { 'class': 'meta' }, s.about + ' · policy ' + s.policy + ' · planned ' + s.createdAt + ' · inventory of ' + s.inventoryAt));
    if (s.refused) root.appendChild(el('div', { 'class': 'refused', role: 'alert' }, 'Refused: ' + s.refused));
    s.notes.forEach(function (n) { root.appendChild(el('div', { 'class': 'note' }, n)); });
    var cards = el('div', { 'class': 'cards' });
    var m = s.summary;
    cards.appendChild(card(count(m.deletes), 'images deleted'));
    cards.appendChild(card(count(m.untags), 'references untagged'));
    cards.appendChild(card(count(m.containers), 'containers removed'));
    cards.appendChild(card(count(m.kept) + ' of ' + count(m.images), 'images kept'));
    cards.appendChild(card(bytes(m.bytes), 'reclaimed (est.)'));
    if (m.cacheBytes !== null) {
      cards.appendChild(card(bytes(m.imageBytes), 'from images'));
      cards.appendChild(card(bytes(m.cacheBytes), 'from the build cache'));
    }
    root.appendChild(cards);
    root.appendChild(el('p', { 'class': 'meta' }, m.line));
    if (s.disk) {
      root.appendChild(el('h3', {}, 'Disk'));
      root.appendChild(el('p', {}, s.disk.text));
      var disk = el('div', { 'class': 'charts' });
      s.disk.gauges.forEach(function (g) { disk.appendChild(gauge(g)); });
      root.appendChild(disk);
    }
    root.appendChild(el('h3', {}, 'Charts'));
    var charts = el('div', { 'class': 'charts' });
    charts.appendChild(repositoryChart(s));
    if (s.ages) {
      var ages = el('div');
      ages.appendChild(legend(FATES, ['deleted', 'untagged (kept)', 'kept']));
      var pair = el('div', { 'class': 'charts' });
      pair.appendChild(bucketChart('Images by age', s.ages.buckets, s.ages.created));
      pair.appendChild(bucketChart('Images by last use', s.ages.buckets, s.ages.lastUsed));
      ages.appendChild(pair);
      charts.appendChild(ages);
    }
    root.appendChild(charts);
    root.appendChild(el('h3', {}, 'Steps and kept images'));
    s.tables.forEach(function (t) { root.appendChild(table(t, s.now)); });
    return root;
  }

  var main = document.querySelector('main');
  data.sections.forEach(function (s, i) { main.appendChild(section(s, i)); });

  var search = document.getElementById('search');
  var matches = document.getElementById('matches');
  var timer = 0;
  function onSearch() {
    var q = search.value.trim().toLowerCase();
    words = q === '' ? [] : q.split(/\s+/).map(function (w) { return w.indexOf('sha256:') === 0 ? w.slice(7) : w; });
    var total = 0;
    tables.forEach(function (st) { filter(st); total += st.shown.length; });
    matches.textContent = words.length === 0 ? '' : count(total) + ' matching rows';
    document.body.dataset.filtered = q;
  }
  search.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(onSearch, 120); });
  // Rendered: once the first frame with the charts and tables has been laid out and painted.
  requestAnimationFrame(function () {
    setTimeout(function () { document.body.dataset.rendered = String(Math.round(performance.now())); }, 0);
  });
})();
`;
