/**
 * The page script's charts, hand-drawn SVG: bytes by repository, images per age bucket, the disk gauge. Part of
 * SCRIPT (script.ts), whose helpers it uses: el, svg, titled, bytes, count, FATES, COLOURS.
 */
export const CHARTS = String.raw`
  function legend(keys, labels) {
    var box = el('div', { class: 'legend' });
    keys.forEach(function (k, i) {
      var item = el('span');
      item.appendChild(el('i', { class: k }));
      item.appendChild(document.createTextNode(labels[i]));
      box.appendChild(item);
    });
    return box;
  }
  function figure(caption) {
    var f = el('figure');
    f.appendChild(el('figcaption', {}, caption));
    return f;
  }

  // Reclaimable and kept bytes per repository: one row each, two bars.
  function repositoryChart(s) {
    var bars = s.repositories;
    var f = figure('Bytes by repository');
    var keys = s.keptSizes ? ['reclaim', 'keptbytes'] : ['reclaim'];
    f.appendChild(legend(keys, ['reclaimable (deleted)', 'kept (image sizes)']));
    var left = 230, width = 760, row = 24, top = 4;
    // Scaled to the named repositories: the bar of all the others, often longer, is cut at the edge.
    var max = 1;
    bars.forEach(function (b) { if (!b.rest) max = Math.max(max, b.reclaim, s.keptSizes ? b.kept : 0); });
    var plot = width - left - 110;
    var chart = svg('svg', { width: width, height: top + Math.max(1, bars.length) * row + 4, role: 'img', 'class': 'chart repositories' });
    titled(chart, 'Reclaimable and kept bytes by repository');
    bars.forEach(function (b, i) {
      var y = top + i * row;
      var name = b.name.length > 36 ? b.name.slice(0, 35) + '…' : b.name;
      chart.appendChild(titled(svg('text', { x: left - 6, y: y + 15, 'text-anchor': 'end' }, name), b.name + ': ' + count(b.images) + ' images'));
      keys.forEach(function (k, j) {
        var v = k === 'reclaim' ? b.reclaim : b.kept;
        var h = keys.length === 2 ? 9 : 16;
        var by = y + 3 + j * (h + 1);
        var cut = v > max;
        var w = Math.max(v > 0 ? 1 : 0, (Math.min(v, max) / max) * plot);
        chart.appendChild(titled(svg('rect', { x: left, y: by, width: w, height: h, fill: COLOURS[k] }), b.name + ': ' + bytes(v) + (k === 'reclaim' ? ' reclaimable' : ' kept')));
        if (cut) chart.appendChild(svg('line', { x1: left + w - 8, x2: left + w - 4, y1: by + h + 1, y2: by - 1, stroke: '#fff', 'stroke-width': 2 }));
        chart.appendChild(svg('text', { x: left + w + 4, y: by + h - 1 }, v > 0 ? bytes(v) + (cut ? ' (bar cut)' : '') : ''));
      });
    });
    if (bars.length === 0) chart.appendChild(svg('text', { x: 10, y: 18 }, 'No images.'));
    chart.appendChild(svg('line', { x1: left, x2: left, y1: 0, y2: top + bars.length * row, 'class': 'axis' }));
    f.appendChild(chart);
    f.appendChild(el('p', {}, 'Reclaimable: the plan\'s estimate, shared layers counted once. Kept: each kept image\'s size, so layers shared between them count more than once.' + (s.keptSizes ? '' : ' Kept sizes are not known here.')));
    return f;
  }

  // Image counts per age bucket, stacked by fate.
  function bucketChart(caption, buckets, counts) {
    var f = figure(caption);
    var width = 380, height = 220, left = 40, bottom = 34, top = 8;
    var max = 1;
    counts.forEach(function (c) { max = Math.max(max, c[0] + c[1] + c[2]); });
    var chart = svg('svg', { width: width, height: height, role: 'img', 'class': 'chart buckets' });
    titled(chart, caption);
    var plotH = height - bottom - top;
    var slot = (width - left) / buckets.length;
    [0, 0.5, 1].forEach(function (t) {
      var y = top + plotH * (1 - t);
      chart.appendChild(svg('line', { x1: left, x2: width, y1: y, y2: y, 'class': 'axis', 'stroke-dasharray': t === 0 ? '' : '2 3' }));
      chart.appendChild(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end' }, count(Math.round(max * t))));
    });
    buckets.forEach(function (label, i) {
      var x = left + i * slot + slot * 0.15;
      var y = top + plotH;
      FATES.forEach(function (fate, j) {
        var n = counts[i][j];
        if (n === 0) return;
        var h = (n / max) * plotH;
        y -= h;
        chart.appendChild(titled(svg('rect', { x: x, y: y, width: slot * 0.7, height: h, fill: COLOURS[fate] }), label + ': ' + count(n) + ' ' + fate));
      });
      chart.appendChild(svg('text', { x: x + slot * 0.35, y: height - bottom + 14, 'text-anchor': 'middle' }, label));
    });
    f.appendChild(chart);
    return f;
  }

  // One limit of the disk section: now, watermark, target and after, on one bar.
  function gauge(g) {
    var usage = g.measure === 'usage';
    var f = figure(usage ? 'Disk usage' : 'Image bytes' );
    var scale = usage ? 1 : Math.max(g.now, g.limit, g.target, g.after || 0) * 1.1 || 1;
    var show = function (v) { return usage ? (Math.round(v * 1000) / 10) + '%' : bytes(v); };
    var width = 620, left = 10, plot = width - 2 * left;
    var x = function (v) { return left + Math.min(1, Math.max(0, v / scale)) * plot; };
    var chart = svg('svg', { width: width, height: 78, role: 'img', 'class': 'chart gauge' });
    titled(chart, 'now ' + show(g.now) + ', watermark ' + show(g.limit) + ', target ' + show(g.target) + ', after ' + (g.after === null ? 'unknown' : show(g.after)));
    chart.appendChild(svg('rect', { x: left, y: 22, width: plot, height: 22, fill: '#eaeded' }));
    chart.appendChild(titled(svg('rect', { x: left, y: 22, width: x(g.now) - left, height: 22, fill: g.now > g.limit ? COLOURS.deleted : COLOURS.kept }), 'now ' + show(g.now)));
    if (g.after !== null) chart.appendChild(titled(svg('rect', { x: left, y: 30, width: x(g.after) - left, height: 6, fill: COLOURS.after }), 'after the plan ' + show(g.after)));
    [['watermark', g.limit, '#1c2833', 14], ['target', g.target, COLOURS.after, 62]].forEach(function (m) {
      chart.appendChild(svg('line', { x1: x(m[1]), x2: x(m[1]), y1: 16, y2: 50, stroke: m[2], 'stroke-width': 2 }));
      var at = Math.min(Math.max(x(m[1]), left + 50), width - 50);
      chart.appendChild(svg('text', { x: at, y: m[3], 'text-anchor': 'middle' }, m[0] + ' ' + show(m[1])));
    });
    f.appendChild(chart);
    f.appendChild(el('p', {}, 'Now ' + show(g.now) + ' (the bar); after the plan ' + (g.after === null ? 'unknown' : show(g.after) + ' (the green line)') + '.'));
    return f;
  }
`;
