/* The ice287g page: plain JavaScript, no library but topojson-client for the map.
 *
 * Every view is an address: ?as_of=YYYY-MM-DD, ?diff=A..B, ?agency=ID, ?state=ST (with
 * &list=pending, &q=, &model=, &type= for the list's filters). The data are two JSON files
 * written by `ice287g publish` (see ice287g/publish/page.py for their layout): the diff
 * below replays `ice287g diff` on them (agreement ids are the resolved, stable ones).
 */
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('config').textContent);
  var params = new URLSearchParams(location.search);
  var MODEL_COLORS = { JEM: '#3d6fb6', TFM: '#e08a2e', WSO: '#4a9c5d', TTFM: '#8d5fb3', '': '#9a9a9a' };
  var SVGNS = 'http://www.w3.org/2000/svg';
  var NO_AGREEMENT = '#ecece8';
  var DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

  // --- small helpers ---------------------------------------------------------------------
  function $(sel) { return document.querySelector(sel); }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') node.textContent = v;
      else if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, v);
    });
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }

  function fmt(n) { return Number(n).toLocaleString('en-US'); }

  function plural(n, word) { return fmt(n) + ' ' + word + (n === 1 ? '' : 's'); }

  function showStatus(text) {
    var node = $('#status');
    node.textContent = text;
    node.hidden = !text;
  }

  function getJSON(path) {
    return fetch(path).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    });
  }

  function link(query) {
    var p = new URLSearchParams(query);
    var s = p.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',');
    return s ? '?' + s : './';
  }

  // --- decoding the compact JSON ------------------------------------------------------------
  function decodeFrame(frame, strings) {
    // Columns named in frame.integer hold numbers; the others hold indexes into `strings`.
    var numeric = frame.columns.map(function (c) { return frame.integer.indexOf(c) >= 0; });
    var out = new Array(frame.length);
    for (var i = 0; i < frame.length; i++) {
      var row = {};
      for (var c = 0; c < frame.columns.length; c++) {
        var v = frame.data[c][i];
        row[frame.columns[c]] = v === null ? null : (numeric[c] ? v : strings[v]);
      }
      out[i] = row;
    }
    return out;
  }

  function expandRanges(r) {
    var out = [];
    for (var i = 0; i < r.length; i += 2) for (var k = 0; k < r[i + 1]; k++) out.push(r[i] + k);
    return out;
  }

  function expandRuns(r) {
    var out = [];
    for (var i = 0; i < r.length; i += 2) for (var k = 0; k < r[i + 1]; k++) out.push(r[i]);
    return out;
  }

  // --- the data model ------------------------------------------------------------------------
  var core, records, lists = {};

  function load(coreJSON) {
    core = coreJSON;
    // Each list's versions, days and counts are its years' one after the other (a state
    // and model a year does not count are zero on its days); the pool of records is the
    // years' records one after the other, and each day refers to it by number.
    records = [];
    core.years.forEach(function (year) {
      decodeFrame(year.records, year.strings).forEach(function (r) { records.push(r); });
      Object.keys(year.lists).forEach(function (name) {
        var Y = year.lists[name];
        var L = lists[name] = lists[name] || { name: name, versions: [], days: [], series: {} };
        var before = L.days.length;
        decodeFrame(Y.versions, year.strings).forEach(function (v) { L.versions.push(v); });
        (year.days[name] || []).forEach(function (d) {
          L.days.push({ version: d.version, ranges: d.members, fields: d.fields, members: null });
        });
        Object.keys(Y.series).forEach(function (state) {
          var S = L.series[state] = L.series[state] || {};
          Object.keys(Y.series[state]).forEach(function (m) {
            if (!S[m]) S[m] = zeros(before);
            expandRuns(Y.series[state][m]).forEach(function (v) { S[m].push(v); });
          });
        });
        Object.keys(L.series).forEach(function (state) {
          Object.keys(L.series[state]).forEach(function (m) {
            var column = L.series[state][m];
            while (column.length < L.days.length) column.push(0);
          });
        });
      });
    });
    Object.keys(lists).forEach(function (name) {
      var L = lists[name];
      L.days.forEach(function (d) { d.version = L.versions[d.version]; d.date = d.version.date; });
    });
  }

  function zeros(n) {
    var out = [];
    for (var i = 0; i < n; i++) out.push(0);
    return out;
  }

  function members(day) {
    if (!day.members) day.members = expandRanges(day.ranges);
    return day.members;
  }

  // The day in effect on `date` (the last day on or before it); -1 when none.
  function dayIndex(L, date) {
    var lo = 0, hi = L.days.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (L.days[mid].date <= date) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }

  function newestIndex(L) { return L.days.length - 1; }

  function countsOn(L, d, state) {
    var s = L.series[state || '*'] || {};
    var out = {}, total = 0;
    Object.keys(s).forEach(function (m) {
      var v = s[m][d] || 0;
      if (v) { out[m] = v; total += v; }
    });
    return { byModel: out, total: total };
  }

  function versionText(v) {
    return v.date + (v.seq > 1 ? ' #' + v.seq : '') + ' (' + v.file_name + ')';
  }

  // --- diff: `ice287g diff` replayed on the published records ---------------------------------
  function diff(L, da, db) {
    var A = members(L.days[da]), B = members(L.days[db]);
    var recA = new Map(), recB = new Map();
    A.forEach(function (i) { recA.set(records[i].agreement_id, i); });
    B.forEach(function (i) { recB.set(records[i].agreement_id, i); });
    var removed = new Set(), added = new Set();
    recA.forEach(function (_, id) { if (!recB.has(id)) removed.add(id); });
    recB.forEach(function (_, id) { if (!recA.has(id)) added.add(id); });
    var fb = new Set(L.days[db].fields);
    var fields = L.days[da].fields.filter(function (f) { return fb.has(f); })
      .sort(function (x, y) { return x - y; }).map(function (f) { return core.diff_fields[f]; });
    var out = { added: [], removed: [], changed: [] };
    added.forEach(function (id) { out.added.push(records[recB.get(id)]); });
    removed.forEach(function (id) { out.removed.push(records[recA.get(id)]); });
    // One agreement on both days (ids are stable across spellings): its changes, named as
    // `ice287g diff` names them (ice287g/identity/story.py, row_changes).
    var DAY = 86400000;
    recA.forEach(function (i, id) {
      if (!recB.has(id)) return;
      var a = records[i], b = records[recB.get(id)];
      var push = function (kind, field, before, after) {
        out.changed.push({ record: b, kind: kind, field: field, before: before, after: after });
      };
      fields.forEach(function (f) {
        if (a[f] === b[f]) return;
        if (f === 'agency') push('renamed', f, a[f], b[f]);
        else if (f === 'signed') {
          var later = a[f] && b[f] && (Date.parse(b[f]) - Date.parse(a[f])) / DAY >= core.resign_min_days;
          push(later ? 're_signed' : 'changed', f, a[f], b[f]);
        } else if (f === 'moa_status') {
          if (b[f] === 'available' && b.moa_url) push('moa_posted', 'moa_url', a[f], b.moa_url);
          else push('changed', f, a[f], b[f]);
        } else if (f === 'moa_url' && a.moa_status !== 'available') {
          // reported with the posting (or the status change) above
        } else push('changed', f, a[f], b[f]);
      });
    });
    var byPlace = function (x, y) {
      return (x.state || '').localeCompare(y.state || '') || x.agency.localeCompare(y.agency) ||
        x.agreement_id.localeCompare(y.agreement_id);
    };
    out.added.sort(byPlace);
    out.removed.sort(byPlace);
    out.changed.sort(function (x, y) {
      return byPlace(x.record, y.record) || core.diff_fields.indexOf(x.field) - core.diff_fields.indexOf(y.field);
    });
    out.renamed = out.changed.filter(function (c) { return c.kind === 'renamed'; });
    out.resigned = out.changed.filter(function (c) { return c.kind === 're_signed'; });
    out.other = out.changed.filter(function (c) { return c.kind === 'changed' || c.kind === 'moa_posted'; });
    out.sizes = [recA.size, recB.size];
    return out;
  }

  // --- views -----------------------------------------------------------------------------------
  var view = {
    list: params.get('list') === 'pending' ? 'pending' : 'participating',
    asOf: params.get('as_of'),
    diff: params.get('diff'),
    agency: params.get('agency'),
    state: (params.get('state') || '').toUpperCase(),
    q: params.get('q') || '',
    model: params.get('model') || '',
    type: params.get('type') || ''
  };

  function checkDate(text, what) {
    if (!DATE_RE.test(text) || isNaN(Date.parse(text))) {
      throw new Error(what + ' is not a date (use YYYY-MM-DD): ' + text);
    }
    return text;
  }

  function viewDay(L) {
    if (!view.asOf) return newestIndex(L);
    var d = dayIndex(L, view.asOf);
    if (d < 0) {
      throw new Error('no ' + L.name + ' version on or before ' + view.asOf +
        ' (the first is ' + L.days[0].date + ')');
    }
    return d;
  }

  function renderSummary() {
    var box = $('#summary');
    box.textContent = '';
    var heading = view.asOf ? 'The lists in effect on ' + view.asOf : 'The newest lists';
    if (view.state) heading += ', ' + view.state;
    box.appendChild(el('h2', { text: heading }));
    var tiles = el('div', { class: 'tiles' });
    ['participating', 'pending'].forEach(function (name) {
      var L = lists[name];
      var d = view.asOf ? dayIndex(L, view.asOf) : newestIndex(L);
      var tile = el('div', { class: 'tile', id: 'tile-' + name });
      if (d < 0) {
        tile.appendChild(el('p', { text: 'No ' + name + ' version yet on that date.' }));
        tiles.appendChild(tile);
        return;
      }
      var day = L.days[d];
      var c = countsOn(L, d, view.state);
      var total = view.state ? c.total : day.version.rows;
      tile.appendChild(el('p', { class: 'big' },
        el('span', { id: 'total-' + name, text: fmt(total) }), ' ',
        el('span', { class: 'label', text: name === 'participating' ? 'participating agreements' : 'pending agreements' })));
      var models = el('ul', { class: 'models' });
      core.models.concat(['']).forEach(function (m) {
        if (!c.byModel[m]) return;
        models.appendChild(el('li', { 'data-model': m || 'none' },
          el('span', { class: 'swatch', style: 'background:' + MODEL_COLORS[m] }),
          el('strong', { text: m || 'no model' }), ' ', el('span', { class: 'n', text: fmt(c.byModel[m]) })));
      });
      tile.appendChild(models);
      tile.appendChild(el('p', { class: 'source' },
        'ICE\'s list published ', el('strong', { text: day.version.date }),
        day.version.seq > 1 ? ' (#' + day.version.seq + ' of the day)' : '',
        ', file ', el('code', { text: day.version.file_name })));
      var newest = L.versions[L.versions.length - 1];
      if (!view.asOf && newest.suspect_reason) {
        tile.appendChild(el('p', { class: 'warn',
          text: 'The newest version (' + versionText(newest) + ') looks broken and is left out: ' + newest.suspect_reason + '.' }));
      }
      tiles.appendChild(tile);
    });
    box.appendChild(tiles);
  }

  // --- chart --------------------------------------------------------------------------------
  function renderChart(markDate) {
    var L = lists.participating;
    var box = $('#chart');
    box.textContent = '';
    $('#chart-scope').textContent = view.state ? '(' + view.state + ')' : '(all states)';
    var series = L.series[view.state || '*'];
    if (!series || !L.days.length) { box.textContent = 'No agreements to chart.'; return; }
    var models = core.models.concat(['']).filter(function (m) { return series[m]; });
    var n = L.days.length;
    var W = 900, H = 300, left = 48, right = 16, top = 12, bottom = 28;
    var t = L.days.map(function (d) { return Date.parse(d.date); });
    var t0 = t[0], t1 = t[n - 1] + 864e5;  // the last day holds for one day
    var totals = t.map(function (_, i) { return models.reduce(function (s, m) { return s + series[m][i]; }, 0); });
    var ymax = Math.max(1, Math.max.apply(null, totals));
    var step = niceStep(ymax / 5);
    ymax = Math.ceil(ymax / step) * step;
    function x(ms) { return left + (ms - t0) / (t1 - t0) * (W - left - right); }
    function y(v) { return top + (1 - v / ymax) * (H - top - bottom); }
    var chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Agreements over time by model' });
    for (var v = 0; v <= ymax; v += step) {
      chart.appendChild(svg('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }));
      chart.appendChild(svg('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end', text: fmt(v) }));
    }
    var first = new Date(t0);
    for (var m = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 1)); m.getTime() <= t1;
      m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))) {
      var label = m.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' }) +
        (m.getUTCMonth() === 0 ? ' ' + m.getUTCFullYear() : '');
      chart.appendChild(svg('line', { x1: x(m.getTime()), x2: x(m.getTime()), y1: H - bottom, y2: H - bottom + 4, class: 'axis' }));
      chart.appendChild(svg('text', { x: x(m.getTime()), y: H - 8, class: 'tick', 'text-anchor': 'middle', text: label }));
    }
    // Stacked steps: each day's value holds until the next day with a version.
    var base = new Array(n).fill(0);
    models.forEach(function (model) {
      var upper = base.map(function (b, i) { return b + series[model][i]; });
      var pts = [];
      for (var i = 0; i < n; i++) {
        var xe = i + 1 < n ? x(t[i + 1]) : x(t1);
        pts.push([x(t[i]), y(upper[i])], [xe, y(upper[i])]);
      }
      for (var j = n - 1; j >= 0; j--) {
        var xe2 = j + 1 < n ? x(t[j + 1]) : x(t1);
        pts.push([xe2, y(base[j])], [x(t[j]), y(base[j])]);
      }
      var last = series[model][n - 1];
      chart.appendChild(svg('path', {
        d: 'M' + pts.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join('L') + 'Z',
        fill: MODEL_COLORS[model], class: 'area', 'data-model': model || 'none'
      }, svg('title', { text: (model || 'no model') + ': ' + fmt(last) + ' on ' + L.days[n - 1].date })));
      base = upper;
    });
    if (markDate) {
      var d = dayIndex(L, markDate);
      if (d >= 0) {
        var mx = x(Date.parse(markDate));
        chart.appendChild(svg('line', { x1: mx, x2: mx, y1: top, y2: H - bottom, class: 'mark' }));
        chart.appendChild(svg('text', { x: mx + 4, y: top + 10, class: 'tick mark-label', text: markDate + ': ' + fmt(totals[d]) }));
      }
    }
    box.appendChild(chart);
    var legend = el('p', { class: 'legend' });
    models.forEach(function (model) {
      legend.appendChild(el('span', { class: 'key' }, el('span', { class: 'swatch', style: 'background:' + MODEL_COLORS[model] }),
        (model || 'no model') + ' ' + fmt(series[model][n - 1])));
    });
    box.appendChild(legend);
  }

  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    var f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  // --- map ------------------------------------------------------------------------------------
  var topology = null;

  function pathOf(geometry) {
    if (!geometry) return '';
    var polys = geometry.type === 'Polygon' ? [geometry.coordinates]
      : geometry.type === 'MultiPolygon' ? geometry.coordinates
      : geometry.type === 'LineString' ? [[geometry.coordinates]]
      : geometry.type === 'MultiLineString' ? [geometry.coordinates] : [];
    var closed = geometry.type === 'Polygon' || geometry.type === 'MultiPolygon';
    var d = '';
    polys.forEach(function (rings) {
      rings.forEach(function (ring) {
        d += 'M' + ring.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join('L') + (closed ? 'Z' : '');
      });
    });
    return d;
  }

  function renderMap(rows, dateText) {
    var box = $('#map');
    if (!topology) { box.textContent = 'Loading the map…'; return; }
    box.textContent = '';
    $('#map-scope').textContent = '(' + dateText + ')';
    var perCounty = new Map(), names = new Map(), unplaced = 0;
    rows.forEach(function (r) {
      if (!r.county_fips) { unplaced++; return; }
      perCounty.set(r.county_fips, (perCounty.get(r.county_fips) || 0) + 1);
      names.set(r.county_fips, r.county + ', ' + r.state);
    });
    $('#map-unplaced').textContent = plural(unplaced, 'agreement');
    var bins = [1, 2, 3, 5, 10];
    var colors = ['#fdc28c', '#f99147', '#e4601a', '#b8420b', '#7a2604'];
    function color(n) {
      var k = -1;
      bins.forEach(function (b, i) { if (n >= b) k = i; });
      return k < 0 ? NO_AGREEMENT : colors[k];
    }
    var map = svg('svg', { viewBox: '0 0 975 610', role: 'img', 'aria-label': 'Agreements per county' });
    var g = svg('g', { class: 'counties' });
    var counties = topojson.feature(topology, topology.objects.counties).features;
    var stateCode = view.state ? stateFips(view.state) : null;
    counties.forEach(function (f) {
      var n = perCounty.get(f.id) || 0;
      var dim = stateCode && f.id.slice(0, 2) !== stateCode;
      var label = (names.get(f.id) || f.properties.name) + ': ' + plural(n, 'agreement');
      var p = svg('path', { d: pathOf(f.geometry), fill: color(n), class: dim ? 'dim' : null, 'data-fips': f.id, 'data-n': n },
        svg('title', { text: label }));
      if (n) {
        p.addEventListener('click', function () {
          var name = names.get(f.id).split(', ')[0];
          $('#search').value = name;
          view.q = name;
          renderTable();
          $('#list-section').scrollIntoView();
        });
        p.setAttribute('tabindex', '0');
      }
      g.appendChild(p);
    });
    map.appendChild(g);
    map.appendChild(svg('path', {
      d: pathOf(topojson.mesh(topology, topology.objects.states, function (a, b) { return a !== b; })),
      class: 'state-borders'
    }));
    map.appendChild(svg('path', { d: pathOf(topojson.mesh(topology, topology.objects.nation)), class: 'nation' }));
    box.appendChild(map);
    var legend = $('#map-legend');
    legend.textContent = '';
    legend.appendChild(el('span', { class: 'key' }, el('span', { class: 'swatch', style: 'background:' + NO_AGREEMENT }), 'none'));
    bins.forEach(function (b, i) {
      var hiB = bins[i + 1] ? bins[i + 1] - 1 : null;
      legend.appendChild(el('span', { class: 'key' }, el('span', { class: 'swatch', style: 'background:' + colors[i] }),
        hiB === null ? b + '+' : (hiB === b ? String(b) : b + '–' + hiB)));
    });
  }

  function stateFips(code) {
    // The first two digits of the county FIPS codes the records give for this state.
    for (var i = 0; i < records.length; i++) {
      if (records[i].state === code && records[i].county_fips) return records[i].county_fips.slice(0, 2);
    }
    return null;
  }

  // --- the list -------------------------------------------------------------------------------
  var tableRows = [];

  function fillSelect(select, values, current) {
    values.forEach(function (v) { select.appendChild(el('option', { value: v, text: v })); });
    select.value = values.indexOf(current) >= 0 ? current : '';
  }

  function setupFilters(rows) {
    var uniq = function (key) {
      return Array.from(new Set(rows.map(function (r) { return r[key]; }).filter(Boolean))).sort();
    };
    var allStates = Array.from(new Set(records.map(function (r) { return r.state; }).filter(Boolean))).sort();
    fillSelect($('#filter-state'), allStates, view.state);
    fillSelect($('#filter-model'), uniq('model'), view.model);
    fillSelect($('#filter-type'), uniq('agency_type'), view.type);
    $('#search').value = view.q;
    var update = function () {
      view.q = $('#search').value.trim();
      view.model = $('#filter-model').value;
      view.type = $('#filter-type').value;
      var state = $('#filter-state').value;
      var stateChanged = state !== view.state;
      view.state = state;
      var query = currentQuery();
      history.replaceState(null, '', link(query));
      renderTable();
      if (stateChanged) { renderSummary(); renderChart(view.asOf); renderMap(tableRows, mapDateText); }
    };
    $('#search').addEventListener('input', update);
    ['#filter-state', '#filter-model', '#filter-type'].forEach(function (s) { $(s).addEventListener('change', update); });
  }

  function currentQuery() {
    var q = {};
    if (view.diff) q.diff = view.diff;
    if (view.asOf) q.as_of = view.asOf;
    if (view.list !== 'participating') q.list = view.list;
    if (view.state) q.state = view.state;
    if (view.q) q.q = view.q;
    if (view.model) q.model = view.model;
    if (view.type) q.type = view.type;
    return q;
  }

  function fold(text) {
    return (text || '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  }

  function words(text) { return fold(text).split(/[^a-z0-9]+/).filter(Boolean); }

  // Every word of the search is a word of the agency or county; the last one may be the
  // start of a word (as it is being typed): "harris county" finds Harris, not Harrison.
  function matches(query, text) {
    if (!query.length) return true;
    var have = words(text);
    var last = query[query.length - 1];
    return query.slice(0, -1).every(function (w) { return have.indexOf(w) >= 0; }) &&
      have.some(function (w) { return w.indexOf(last) === 0; });
  }

  function renderTable() {
    var body = $('#list-table tbody');
    body.textContent = '';
    var query = words(view.q);
    var shown = tableRows.filter(function (r) {
      if (view.state && r.state !== view.state) return false;
      if (view.model && r.model !== view.model) return false;
      if (view.type && r.agency_type !== view.type) return false;
      return matches(query, r.agency + ' ' + (r.county || ''));
    });
    var frag = document.createDocumentFragment();
    shown.forEach(function (r) {
      frag.appendChild(el('tr', null,
        el('td', { text: r.state || '' }),
        el('td', null, el('a', { href: link({ agency: agencyId(r) }), text: r.agency })),
        el('td', { text: r.agency_type || '' }),
        el('td', { text: r.county || '' }),
        el('td', { text: r.model || '' }),
        el('td', { text: r.signed || '' }),
        el('td', null, moaCell(r))));
    });
    body.appendChild(frag);
    $('#rows-count').textContent = 'showing ' + fmt(shown.length) + ' of ' + plural(tableRows.length, 'agreement');
    $('#rows-count').setAttribute('data-shown', shown.length);
  }

  function agencyId(r) { return r.agency_id || r.agreement_id.slice(0, r.agreement_id.lastIndexOf(':')); }

  function moaCell(r) {
    if (r.moa_url) {
      return el('span', null, el('a', { href: r.moa_url, rel: 'noopener noreferrer', text: 'MOA' }),
        r.addendum_url ? [' · ', el('a', { href: r.addendum_url, rel: 'noopener noreferrer', text: 'addendum' })] : null);
    }
    return el('span', { class: 'muted', text: r.moa_status || '' });
  }

  var mapDateText = '';

  function renderList() {
    var L = lists[view.list];
    var d = viewDay(L);
    var day = L.days[d];
    tableRows = members(day).map(function (i) { return records[i]; }).sort(function (a, b) {
      return (a.state || '').localeCompare(b.state || '') || a.agency.localeCompare(b.agency) ||
        (a.model || '').localeCompare(b.model || '');
    });
    $('#list-title').textContent = 'The ' + view.list + ' list ' +
      (view.asOf ? 'in effect on ' + view.asOf : 'now') + ': version of ' + versionText(day.version);
    setupFilters(tableRows);
    renderTable();
    var P = lists.participating;
    var pd = view.asOf ? dayIndex(P, view.asOf) : newestIndex(P);
    mapDateText = pd >= 0 ? 'participating, ' + P.days[pd].date : 'no participating list yet';
    return pd >= 0 ? members(P.days[pd]).map(function (i) { return records[i]; }) : [];
  }

  // --- diff view ------------------------------------------------------------------------------
  function renderDiff() {
    var parts = view.diff.split('..');
    if (parts.length !== 2) throw new Error('?diff= takes two dates: ?diff=YYYY-MM-DD..YYYY-MM-DD');
    var a = checkDate(parts[0], 'the first date'), b = checkDate(parts[1], 'the second date');
    var L = lists[view.list];
    var da = dayIndex(L, a), db = dayIndex(L, b);
    [[a, da], [b, db]].forEach(function (x) {
      if (x[1] < 0) throw new Error('no ' + L.name + ' version on or before ' + x[0] + ' (the first is ' + L.days[0].date + ')');
    });
    $('#pick-diff-a').value = a;
    $('#pick-diff-b').value = b;
    var r = diff(L, da, db);
    var box = $('#diff');
    box.hidden = false;
    box.textContent = '';
    box.appendChild(el('h2', { text: 'What changed on the ' + L.name + ' list from ' + a + ' to ' + b }));
    box.appendChild(el('p', null, 'Versions compared: ', el('strong', { text: versionText(L.days[da].version) }),
      ' (in effect on ' + a + ') and ', el('strong', { text: versionText(L.days[db].version) }),
      ' (in effect on ' + b + '). Agreements: ' + fmt(r.sizes[0]) + ' → ' + fmt(r.sizes[1]) + '.'));
    if (da === db) box.appendChild(el('p', { class: 'warn', text: 'Both dates fall on the same version: nothing changed.' }));
    var kinds = [
      ['added', 'added', r.added, 'newly listed'],
      ['removed', 'removed', r.removed, 'no longer listed (a spelling change is a rename, not a removal)'],
      ['renamed', 'renamed', r.renamed, 'the agency\'s name changed'],
      ['resigned', 're-signed', r.resigned, 'a new signing date (a renewal)'],
      ['other', 'other changes', r.other, 'county, type, MOA link or status']
    ];
    var tiles = el('div', { class: 'tiles diff-counts' });
    kinds.forEach(function (k) {
      tiles.appendChild(el('a', { class: 'tile small', href: '#diff-' + k[0] + '-rows' },
        el('span', { class: 'big', id: 'diff-' + k[0], text: fmt(k[2].length) }), ' ', el('span', { class: 'label', text: k[1] }),
        el('span', { class: 'hint', text: k[3] })));
    });
    box.appendChild(tiles);
    kinds.forEach(function (k) {
      if (!k[2].length) return;
      var title = k[2].length === 1 ? k[1].replace(/changes$/, 'change') : k[1];
      box.appendChild(el('h3', { id: 'diff-' + k[0] + '-rows', text: fmt(k[2].length) + ' ' + title }));
      var isChange = k[0] === 'renamed' || k[0] === 'resigned' || k[0] === 'other';
      var head = isChange ? ['State', 'Agency', 'Model', 'Field', 'Before', 'After']
        : ['State', 'Agency', 'Model', 'County', 'Signed', 'MOA'];
      var table = el('table', { class: 'rows' }, el('thead', null, el('tr', null, head.map(function (h) { return el('th', { text: h }); }))));
      var tb = el('tbody');
      k[2].forEach(function (x) {
        var rec = isChange ? x.record : x;
        var cells = [el('td', { text: rec.state || '' }),
          el('td', null, el('a', { href: link({ agency: agencyId(rec) }), text: rec.agency })),
          el('td', { text: rec.model || '' })];
        if (isChange) cells.push(el('td', { text: x.field }), el('td', { text: x.before || '' }), el('td', { text: x.after || '' }));
        else cells.push(el('td', { text: rec.county || '' }), el('td', { text: rec.signed || '' }), el('td', null, moaCell(rec)));
        tb.appendChild(el('tr', null, cells));
      });
      table.appendChild(tb);
      box.appendChild(el('div', { class: 'table-wrap' }, table));
    });
  }

  // --- agency view ----------------------------------------------------------------------------
  function renderAgency(history) {
    var agreements = decodeFrame(history.agreements, history.strings);
    var events = [];
    history.years.forEach(function (year) {
      decodeFrame(year.events, year.strings).forEach(function (e) { events.push(e); });
    });
    var id = view.agency;
    var keyOf = function (name) { return (name || '').toLowerCase().replace(/[^a-z0-9]/g, ''); };
    var mine = events.filter(function (e) { return e.agency_id === id; });
    if (!mine.length) {
      // Another spelling's id (ST:name): find the agency listed under that name.
      var st = id.split(':')[0], key = id.slice(st.length + 1);
      var hit = events.find(function (e) { return e.state === st && keyOf(e.agency) === key; });
      if (hit) { id = hit.agency_id; mine = events.filter(function (e) { return e.agency_id === id; }); }
    }
    var box = $('#agency');
    box.hidden = false;
    box.textContent = '';
    if (!mine.length) { box.appendChild(el('p', { class: 'warn', text: 'No agency with id ' + view.agency + '.' })); return; }
    var ags = agreements.filter(function (a) { return a.agency_id === id || agencyId(a) === id; });
    var name = ags.length ? ags[0].agency : mine[mine.length - 1].agency;
    var state = ags.length ? ags[0].state : mine[0].state;
    box.appendChild(el('h2', { id: 'agency-name', text: name + ' (' + state + ')' }));
    var spellings = Array.from(new Set(mine.map(function (e) { return e.agency; }))).filter(function (s) { return s !== name; });
    if (spellings.length) box.appendChild(el('p', { text: 'Also listed as: ' + spellings.join('; ') }));
    if (ags.length) {
      var head = ['Model', 'Status', 'Listed', 'Versions', 'Returns', 'Signed', 'MOA', 'Pending since', 'Days waited'];
      var table = el('table', { class: 'rows', id: 'agency-agreements' }, el('thead', null, el('tr', null, head.map(function (h) { return el('th', { text: h }); }))));
      var tb = el('tbody');
      ags.forEach(function (a) {
        tb.appendChild(el('tr', null,
          el('td', { text: a.model || '' }),
          el('td', { text: a.status || '' }),
          el('td', { text: a.first_listed + ' to ' + a.last_listed }),
          el('td', { text: a.versions_listed === null ? '' : fmt(a.versions_listed) }),
          el('td', { text: a.returns ? String(a.returns) : '' }),
          el('td', { text: a.signed || '' }),
          el('td', null, a.moa_url ? el('a', { href: a.moa_url, rel: 'noopener noreferrer', text: 'MOA' }) : ''),
          el('td', { text: a.pending_first_listed || '' }),
          el('td', { text: a.days_waited === null ? '' : String(a.days_waited) })));
      });
      table.appendChild(tb);
      box.appendChild(el('h3', { text: 'Agreements' }));
      box.appendChild(el('div', { class: 'table-wrap' }, table));
    } else {
      box.appendChild(el('p', { text: 'Never on the participating list.' }));
    }
    box.appendChild(el('h3', { text: 'Timeline' }));
    var th = ['Date', 'List', 'Event', 'Model', 'Field', 'Before', 'After'];
    var tl = el('table', { class: 'rows', id: 'agency-timeline' }, el('thead', null, el('tr', null, th.map(function (h) { return el('th', { text: h }); }))));
    var tbody = el('tbody');
    mine.forEach(function (e) {
      tbody.appendChild(el('tr', { class: 'ev-' + e.event },
        el('td', { text: e.date }), el('td', { text: e.list }), el('td', { text: e.event }), el('td', { text: e.model || '' }),
        el('td', { text: e.field || '' }), el('td', { text: e.before || '' }), el('td', { text: e.after || '' })));
    });
    tl.appendChild(tbody);
    box.appendChild(el('div', { class: 'table-wrap' }, tl));
    document.title = name + ' — ICE 287(g) agreements';
  }

  // --- about ----------------------------------------------------------------------------------
  function renderAbout() {
    var P = lists.participating, Q = lists.pending;
    var all = P.versions.concat(Q.versions);
    var dates = all.map(function (v) { return v.date; }).sort();
    $('#about-versions').textContent = fmt(P.versions.length) + ' versions of the participating list and ' +
      fmt(Q.versions.length) + ' of the pending list, published from ' + dates[0] + ' to ' + dates[dates.length - 1] + '.';
    var suspect = [];
    [P, Q].forEach(function (L) {
      L.versions.forEach(function (v) { if (v.suspect_reason) suspect.push(L.name + ' ' + versionText(v) + ': ' + v.suspect_reason); });
    });
    $('#about-suspect').textContent = suspect.length ? 'Left out: ' + suspect.join('; ') + '.' : 'None so far.';
    var url = config.base_url || location.href.split(/[?#]/)[0];
    $('#cite').textContent = 'ICE 287(g) agreements: the versioned public record (ice287g), ' + url +
      ', data as of ' + dates[dates.length - 1] + '. Source: U.S. Immigration and Customs Enforcement, 287(g) program lists.';
  }

  // --- controls -------------------------------------------------------------------------------
  function setupControls() {
    var P = lists.participating;
    var first = P.days.length ? P.days[0].date : '';
    var last = P.days.length ? P.days[P.days.length - 1].date : '';
    ['#pick-as-of', '#pick-diff-a', '#pick-diff-b'].forEach(function (s) { $(s).min = first; });
    $('#pick-list').value = view.list;
    $('#pick-as-of').value = view.asOf || last;
    if (!view.diff) {
      var prev = P.days.length > 1 ? P.days[P.days.length - 2].date : first;
      $('#pick-diff-a').value = prev;
      $('#pick-diff-b').value = last;
    }
    $('#go-as-of').addEventListener('click', function () {
      var q = { as_of: $('#pick-as-of').value };
      if ($('#pick-list').value !== 'participating') q.list = $('#pick-list').value;
      if (view.state) q.state = view.state;
      location.search = link(q);
    });
    $('#go-diff').addEventListener('click', function () {
      var q = { diff: $('#pick-diff-a').value + '..' + $('#pick-diff-b').value };
      if ($('#pick-list').value !== 'participating') q.list = $('#pick-list').value;
      location.search = link(q);
    });
  }

  // --- start ----------------------------------------------------------------------------------
  function fail(err) {
    showStatus(String(err && err.message ? err.message : err));
  }

  function start() {
    var mapRows = [];
    try {
      if (view.asOf) checkDate(view.asOf, '?as_of');
      setupControls();
      renderAbout();
      renderSummary();
      mapRows = renderList();
      renderChart(view.asOf);
      if (view.diff) renderDiff();
    } catch (err) {
      fail(err);
    }
    var pending = [
      getJSON(config.counties).then(function (t) { topology = t; renderMap(mapRows, mapDateText); })
    ];
    if (view.agency) {
      pending.push(getJSON(config.history).then(renderAgency).then(function () {
        $('#agency').scrollIntoView();
      }));
    }
    if (view.diff) $('#diff').scrollIntoView();
    return Promise.all(pending);
  }

  getJSON(config.core)
    .then(function (data) { load(data); return start(); })
    .catch(fail)
    .then(function () { document.body.setAttribute('data-ready', '1'); });
})();
