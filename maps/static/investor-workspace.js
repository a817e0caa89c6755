/* The investor workspace: a criteria panel with weights, a ranked result list beside the map, the sites on the
 * map (matching ones in colour and sized by area, the others faded), a card per site with its fact sheet, drive-time
 * isochrones, comparison, exports and a share link. The page state lives in the URL: the query string is the
 * site search's own query (min.ATTR, max.ATTR, in.ATTR, fibre, within.HUB, score=ATTR:DIR:WEIGHT) plus sel (the
 * selected site), map (zoom/lat/lon) and lang, so a shared link reproduces the same result.
 *
 * Online the search is the service's GET /sites/search; in a standalone export (no server) the same scoring runs
 * here over the sites embedded in the file. Every text from data is put in the page with textContent, never as HTML.
 */
function investorWorkspace() {
  'use strict';
  var cfgNode = document.getElementById('investor-config');
  if (!cfgNode) { return; }
  var cfg = JSON.parse(cfgNode.textContent);
  var lang = cfg.lang;
  var T = cfg.texts;
  var OWN = {sel: 1, map: 1, lang: 1};
  var STATUS_COLOUR = cfg.colours;
  var ws = {ready: false, matched: 0, listed: [], selected: null, searches: 0, lastQuery: null, isochrone: null};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'class') { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function fmt(v, decimals) {
    if (v === null || v === undefined || v === '' || isNaN(v)) { return '–'; }
    var s = Number(v).toLocaleString(lang === 'en' ? 'en-GB' : 'nb-NO',
                                      {minimumFractionDigits: decimals, maximumFractionDigits: decimals});
    return s;
  }

  /* -- state <-> URL ------------------------------------------------------------------------------------ */
  function readUrl() {
    var params = new URLSearchParams(window.location.search);
    var state = {filters: {}, scores: {}, sel: params.get('sel'), map: params.get('map')};
    params.forEach(function (value, key) {
      if (key === 'score') {
        var parts = value.split(':');
        state.scores[parts[0]] = {direction: parts[1], weight: Number(parts[2]), ideal: parts[3]};
      } else if (!OWN[key] && key !== 'limit' && key !== 'offset') {
        state.filters[key] = value;
      }
    });
    return state;
  }
  function weights(scores) {
    /* integer percentages summing to exactly 100 (largest remainder), as the search API requires */
    var keys = Object.keys(scores).filter(function (k) { return scores[k].weight > 0; });
    var total = keys.reduce(function (s, k) { return s + scores[k].weight; }, 0);
    if (!total) { return []; }
    var raw = keys.map(function (k) { return {k: k, w: scores[k].weight * 100 / total}; });
    var floor = raw.map(function (r) { return {k: r.k, w: Math.floor(r.w), rest: r.w - Math.floor(r.w)}; });
    var missing = 100 - floor.reduce(function (s, r) { return s + r.w; }, 0);
    floor.slice().sort(function (a, b) { return b.rest - a.rest || (a.k < b.k ? -1 : 1); }).slice(0, missing)
      .forEach(function (r) { r.w += 1; });
    return floor.filter(function (r) { return r.w > 0; });
  }
  function searchQuery(state) {
    var q = new URLSearchParams();
    Object.keys(state.filters).sort().forEach(function (k) {
      if (state.filters[k] !== '' && state.filters[k] !== null) { q.append(k, state.filters[k]); }
    });
    weights(state.scores).forEach(function (r) {
      var s = state.scores[r.k];
      q.append('score', r.k + ':' + s.direction + ':' + r.w + (s.ideal ? ':' + s.ideal : ''));
    });
    return q;
  }
  function writeUrl(state) {
    var q = searchQuery(state);
    if (state.sel) { q.set('sel', state.sel); }
    if (state.map) { q.set('map', state.map); }
    q.set('lang', lang);
    var url = window.location.pathname + '?' + q.toString();
    if (url !== window.location.pathname + window.location.search) { window.history.replaceState(null, '', url); }
    updateLinks(q);
  }

  /* -- the panel ---------------------------------------------------------------------------------------- */
  var state = readUrl();
  var panel = document.getElementById('iw-panel');
  var form = el('form', {id: 'iw-criteria', 'aria-label': T.criteria});
  var list = el('ol', {id: 'iw-results'});
  var count = el('p', {id: 'iw-count', 'aria-live': 'polite'});
  var inputs = {};

  function filterInput(f) {
    var wrap = el('label', {class: 'iw-field'});
    wrap.appendChild(el('span', {}, f[lang] + (f.unit ? ' (' + f.unit + ')' : '')));
    var input;
    if (f.type === 'choice') {
      input = el('select', {multiple: 'multiple', name: f.param, size: String(Math.min(f.options.length, 4))});
      var chosen = (state.filters[f.param] || '').split(',');
      f.options.forEach(function (o) {
        var opt = el('option', {value: o.value}, o[lang]);
        if (chosen.indexOf(o.value) >= 0) { opt.selected = true; }
        input.appendChild(opt);
      });
    } else if (f.type === 'flag') {
      input = el('input', {type: 'checkbox', name: f.param});
      input.checked = state.filters[f.param] === 'true';
      wrap.classList.add('iw-flag');
    } else {
      input = el('input', {type: 'number', min: '0', step: 'any', name: f.param, inputmode: 'decimal'});
      input.value = state.filters[f.param] || '';
    }
    inputs[f.param] = {def: f, node: input};
    wrap.appendChild(input);
    return wrap;
  }
  function scoreInput(s) {
    var wrap = el('label', {class: 'iw-weight'});
    var current = state.scores[s.attribute];
    var out = el('output', {}, current ? String(current.weight) : '0');
    wrap.appendChild(el('span', {}, s[lang]));
    var input = el('input', {type: 'range', min: '0', max: '100', step: '5', name: 'w.' + s.attribute});
    input.value = current ? String(current.weight) : '0';
    input.addEventListener('input', function () { out.textContent = input.value; });
    inputs['w.' + s.attribute] = {def: s, node: input, weight: true};
    wrap.appendChild(input);
    wrap.appendChild(out);
    return wrap;
  }
  function readForm() {
    var filters = {};
    var scores = {};
    Object.keys(inputs).forEach(function (k) {
      var item = inputs[k];
      if (item.weight) {
        var w = Number(item.node.value);
        if (w > 0) {
          var prev = state.scores[item.def.attribute];
          scores[item.def.attribute] = {direction: item.def.direction, weight: w, ideal: prev && prev.ideal};
        }
      } else if (item.def.type === 'choice') {
        var vals = Array.prototype.filter.call(item.node.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        if (vals.length) { filters[k] = vals.join(','); }
      } else if (item.def.type === 'flag') {
        if (item.node.checked) { filters[k] = 'true'; }
      } else if (item.node.value !== '') {
        filters[k] = item.node.value;
      }
    });
    // filters the panel does not show (from a shared link or the API) are kept
    Object.keys(state.filters).forEach(function (k) { if (!inputs[k]) { filters[k] = state.filters[k]; } });
    Object.keys(state.scores).forEach(function (k) { if (!inputs['w.' + k]) { scores[k] = state.scores[k]; } });
    state.filters = filters;
    state.scores = scores;
  }

  var fieldset = el('fieldset', {});
  fieldset.appendChild(el('legend', {}, T.criteria));
  cfg.filters.forEach(function (f) { fieldset.appendChild(filterInput(f)); });
  form.appendChild(fieldset);
  var weightSet = el('fieldset', {});
  weightSet.appendChild(el('legend', {}, T.weights));
  cfg.scores.forEach(function (s) { weightSet.appendChild(scoreInput(s)); });
  form.appendChild(weightSet);
  var actions = el('div', {class: 'iw-actions'});
  var share = el('button', {type: 'button', id: 'iw-share'}, T.share);
  var shareStatus = el('span', {id: 'iw-share-status', 'aria-live': 'polite'});
  var compareBtn = el('a', {id: 'iw-compare', class: 'iw-button', href: '#', 'aria-disabled': 'true'}, T.compare);
  actions.appendChild(share);
  actions.appendChild(compareBtn);
  actions.appendChild(shareStatus);
  form.appendChild(actions);
  var exports = el('p', {class: 'iw-exports', id: 'iw-exports'});
  exports.appendChild(el('span', {}, T['export'] + ': '));
  var exportLinks = {};
  [['csv', 'CSV'], ['csv-excel', 'CSV (Excel)'], ['xlsx', 'XLSX'], ['gpkg', 'GeoPackage'], ['geojson', 'GeoJSON']]
    .forEach(function (pair) {
      var a = el('a', {'data-format': pair[0]}, pair[1]);
      exportLinks[pair[0]] = a;
      exports.appendChild(a);
    });
  if (cfg.mode !== 'api') { exports.textContent = T.offline; }
  panel.appendChild(form);
  panel.appendChild(exports);
  panel.appendChild(count);
  panel.appendChild(list);

  var toggle = document.getElementById('iw-toggle');
  toggle.addEventListener('click', function () {
    var hidden = panel.classList.toggle('iw-hidden');
    toggle.textContent = hidden ? T.show_panel : T.hide_panel;
    toggle.setAttribute('aria-expanded', hidden ? 'false' : 'true');
  });

  var timer = null;
  form.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { readForm(); run(); }, 200);
  });
  form.addEventListener('submit', function (e) { e.preventDefault(); readForm(); run(); });
  share.addEventListener('click', function () {
    var url = window.location.href;
    var done = function () { shareStatus.textContent = T.copied; ws.shared = url; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(done, done);
    } else { done(); }
  });

  function updateLinks(q) {
    if (cfg.mode !== 'api') { return; }
    var base = cfg.api + '/sites/search.';
    var query = q.toString();
    exportLinks.csv.href = base + 'csv?' + query;
    exportLinks['csv-excel'].href = base + 'csv?' + query + (query ? '&' : '') + 'variant=excel-no';
    exportLinks.xlsx.href = base + 'xlsx?' + query;
    exportLinks.gpkg.href = base + 'gpkg?' + query;
    exportLinks.geojson.href = base + 'geojson?' + query;
  }

  /* -- search: the service, or the same scoring over embedded sites -------------------------------------- */
  function localSearch(q) {
    var sites = cfg.sites;
    var matched = sites.filter(function (s) {
      var ok = true;
      q.forEach(function (value, key) {
        if (!ok || key === 'score') { return; }
        var dot = key.indexOf('.');
        var op = dot > 0 ? key.slice(0, dot) : key;
        var attr = key.slice(dot + 1);
        var v = s[attr];
        if (op === 'min') { ok = v !== null && v !== undefined && v >= Number(value); }
        else if (op === 'max') { ok = v !== null && v !== undefined && v <= Number(value); }
        else if (op === 'in') { ok = value.split(',').indexOf(String(v)) >= 0; }
        else if (op === 'fibre') { ok = value !== 'true' || s.fibre === true; }
        else if (op === 'within') { v = s[attr + '_min']; ok = v !== null && v !== undefined && v <= Number(value); }
      });
      return ok;
    });
    var criteria = q.getAll('score').map(function (c) {
      var p = c.split(':');
      return {attribute: p[0], direction: p[1], weight: Number(p[2]), ideal: p[3] === undefined ? null : Number(p[3])};
    });
    matched.sort(function (a, b) { return a.site_id < b.site_id ? -1 : 1; });
    var scored = matched.map(function (s) { return {site: s, score: 0}; });
    criteria.forEach(function (c) {
      var vals = scored.map(function (r) { var v = r.site[c.attribute]; return v === null || v === undefined ? NaN : v; });
      var finite = vals.filter(function (v) { return !isNaN(v); });
      var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
      var gap = c.direction === 'ideal' ? Math.max.apply(null, finite.map(function (v) { return Math.abs(v - c.ideal); })) : 0;
      scored.forEach(function (r, i) {
        var v = vals[i], s;
        if (isNaN(v)) { s = 0; }
        else if (c.direction === 'ideal') { s = gap > 0 ? 1 - Math.abs(v - c.ideal) / gap : 1; }
        else if (hi === lo) { s = 1; }
        else { s = c.direction === 'higher' ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo); }
        r.score += c.weight * s;
      });
    });
    scored.forEach(function (r) { r.score = Math.round(r.score * 1e6) / 1e6; });
    scored.sort(function (a, b) { return b.score - a.score; });  // stable: ties stay in site-id order
    return {numberMatched: scored.length, features: scored.slice(0, cfg.listLimit).map(function (r) {
      return {id: r.site.site_id, properties: Object.assign({}, r.site, {score: Math.round(r.score * 100) / 100})};
    })};
  }
  function run() {
    writeUrl(state);
    var q = searchQuery(state);
    ws.lastQuery = q.toString();
    var started = performance.now();
    var done = function (answer) {
      ws.searchMs = performance.now() - started;
      ws.searches += 1;
      show(answer);
    };
    if (cfg.mode === 'api') {
      q.set('limit', String(cfg.listLimit));
      fetch(cfg.api + '/sites/search?' + q.toString(), {headers: {Accept: 'application/json'}})
        .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
        .then(function (res) {
          if (!res.ok) { count.textContent = res.body.description || 'error'; ws.error = res.body; return; }
          ws.error = null;
          done(res.body);
        });
    } else {
      done(localSearch(q));
    }
  }

  /* -- map ---------------------------------------------------------------------------------------------- */
  var map = null;
  var markers = {};
  var sitesById = {};
  var isoLayer = null;
  var compareSet = [];

  function radius(daa) { return Math.max(4, Math.min(22, 3 + Math.sqrt(Math.max(daa || 0, 0)) * 1.4)); }
  function colourOf(p) { return p.site_type === 'premises' ? STATUS_COLOUR.premises : (STATUS_COLOUR[p.business_status] || '#555'); }

  function drawAll(all) {
    all.forEach(function (s) {
      sitesById[s.site_id] = s;
      var m = L.circleMarker([s.lat, s.lon], {radius: radius(s.net_available_daa), weight: 1, color: '#333',
                                             fillColor: '#bbbbbb', fillOpacity: 0.25, opacity: 0.35});
      m.on('click', function () { select(s.site_id, true); });
      m.bindTooltip(s.navn || s.site_id, {direction: 'top'});
      m.addTo(map);
      markers[s.site_id] = m;
    });
  }
  function show(answer) {
    var ids = answer.features.map(function (f) { return f.id; });
    ws.matched = answer.numberMatched;
    ws.listed = ids;
    var matchedSet = {};
    ids.forEach(function (id) { matchedSet[id] = true; });
    Object.keys(markers).forEach(function (id) {
      var s = sitesById[id];
      var on = matchedSet[id];
      markers[id].setStyle(on ? {fillColor: colourOf(s), fillOpacity: 0.85, opacity: 1, color: '#222'}
                              : {fillColor: '#bbbbbb', fillOpacity: 0.2, opacity: 0.3, color: '#777'});
      if (on) { markers[id].bringToFront(); }
    });
    count.textContent = answer.numberMatched + ' ' + T.results.toLowerCase() + (answer.numberMatched > ids.length
      ? ' (' + ids.length + ' ' + T.of + ' ' + answer.numberMatched + ')' : '');
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!ids.length) { list.appendChild(el('li', {class: 'iw-none'}, T.none)); }
    answer.features.forEach(function (f, i) {
      var p = f.properties;
      var li = el('li', {'data-id': f.id, tabindex: '0'});
      var head = el('div', {class: 'iw-head'});
      head.appendChild(el('span', {class: 'iw-rank'}, String(i + 1)));
      head.appendChild(el('span', {class: 'iw-name'}, p.navn || f.id));
      head.appendChild(el('span', {class: 'iw-score'}, fmt(p.score, 0)));
      li.appendChild(head);
      li.appendChild(el('div', {class: 'iw-facts'}, [p.kommunenavn, fmt(p.net_available_daa, 1) + ' ' + T.daa,
        T['status_' + (p.site_type === 'premises' ? 'premises' : p.business_status)] || ''].join(' · ')));
      if (p.explanation) { li.appendChild(el('div', {class: 'iw-why'}, p.explanation[lang] || '')); }
      li.addEventListener('mouseenter', function () { highlight(f.id, true); });
      li.addEventListener('mouseleave', function () { highlight(f.id, false); });
      li.addEventListener('click', function () { select(f.id, true); });
      li.addEventListener('keydown', function (e) { if (e.key === 'Enter') { select(f.id, true); } });
      list.appendChild(li);
    });
    if (state.sel && sitesById[state.sel]) { select(state.sel, false); }
    ws.ready = true;
  }
  function highlight(id, on) {
    var m = markers[id];
    if (!m) { return; }
    m.setStyle(on ? {weight: 4, color: '#000'} : {weight: 1, color: '#222'});
    ws.highlighted = on ? id : null;
  }
  function card(s) {
    var box = el('div', {class: 'iw-card'});
    box.appendChild(el('h3', {}, s.navn || s.site_id));
    var t = el('table', {});
    [[cfg.labels.net_available_daa + ' (daa)', fmt(s.net_available_daa, 1)],
     [cfg.labels.main_road_km + ' (km)', fmt(s.main_road_km, 1)],
     [cfg.labels.population_45min, fmt(s.population_45min, 0)], [cfg.labels.substation_free_mw, fmt(s.substation_free_mw, 1)],
     [cfg.labels.objection_risk, s.objection_risk || '–']].forEach(function (r) {
      var tr = el('tr', {});
      tr.appendChild(el('th', {}, r[0]));
      tr.appendChild(el('td', {}, r[1]));
      t.appendChild(tr);
    });
    box.appendChild(t);
    var links = el('p', {class: 'iw-links'});
    if (cfg.mode === 'api') {
      links.appendChild(el('a', {href: cfg.api + '/sites/' + encodeURIComponent(s.site_id) + '/factsheet?lang=' + lang,
                                 target: '_blank', rel: 'noopener', class: 'iw-factsheet'}, T.factsheet));
      links.appendChild(el('a', {href: cfg.api + '/sites/' + encodeURIComponent(s.site_id) + '/factsheet.pdf?lang=' + lang,
                                 target: '_blank', rel: 'noopener'}, T.pdf));
      var iso = el('button', {type: 'button', class: 'iw-iso'}, T.drive_time);
      iso.addEventListener('click', function () { driveTime(s); });
      links.appendChild(iso);
    }
    var pick = el('label', {class: 'iw-pick'});
    var box2 = el('input', {type: 'checkbox'});
    box2.checked = compareSet.indexOf(s.site_id) >= 0;
    box2.addEventListener('change', function () { toggleCompare(s.site_id, box2.checked); });
    pick.appendChild(box2);
    pick.appendChild(document.createTextNode(' ' + T.compare_pick));
    links.appendChild(pick);
    box.appendChild(links);
    return box;
  }
  function select(id, pan) {
    var s = sitesById[id];
    if (!s) { return; }
    state.sel = id;
    ws.selected = id;
    Array.prototype.forEach.call(list.children, function (li) { li.classList.toggle('iw-selected', li.getAttribute('data-id') === id); });
    var popup = L.popup({autoPanPaddingTopLeft: L.point(panelWidth() + 20, 20), autoPanPaddingBottomRight: L.point(20, 20),
                         maxWidth: 300}).setLatLng([s.lat, s.lon]).setContent(card(s));
    popup.openOn(map);
    if (pan && map.getZoom() < 12) { map.setView([s.lat, s.lon], 12); }
    writeUrl(state);
  }
  function panelWidth() { return panel.classList.contains('iw-hidden') ? 0 : panel.getBoundingClientRect().width; }
  function toggleCompare(id, on) {
    compareSet = compareSet.filter(function (x) { return x !== id; });
    if (on) { compareSet.push(id); }
    compareSet = compareSet.slice(-4);
    ws.compare = compareSet.slice();
    if (compareSet.length >= 2 && cfg.mode === 'api') {
      compareBtn.href = cfg.api + '/sites/compare/sheet?ids=' + compareSet.map(encodeURIComponent).join(',') + '&lang=' + lang;
      compareBtn.setAttribute('aria-disabled', 'false');
    } else {
      compareBtn.href = '#';
      compareBtn.setAttribute('aria-disabled', 'true');
    }
  }
  function driveTime(s) {
    var url = cfg.api + '/analyses/drive-time?lon=' + s.lon + '&lat=' + s.lat + '&minutes=15,30,45';
    fetch(url).then(function (r) { return r.json(); }).then(function (fc) {
      if (isoLayer) { map.removeLayer(isoLayer); }
      var shades = ['#08519c', '#3182bd', '#9ecae1'];
      isoLayer = L.geoJSON(fc, {style: function (f) {
        var i = [15, 30, 45].indexOf(f.properties.minutes);
        return {color: shades[i] || '#3182bd', weight: 1, fillOpacity: 0.12};
      }, onEachFeature: function (f, layer) {
        layer.bindTooltip(f.properties.minutes + ' ' + T.minutes + (f.properties.population !== null
          ? ' · ' + fmt(f.properties.population, 0) : ''));
      }}).addTo(map);
      isoLayer.bringToBack();
      ws.isochrone = {site: s.site_id, bands: (fc.features || []).map(function (f) { return f.properties.minutes; })};
    });
  }

  function start() {
    map = GeoMaps.map;
    var view = (state.map || '').split('/');
    if (view.length === 3 && !isNaN(Number(view[0]))) { map.setView([Number(view[1]), Number(view[2])], Number(view[0])); }
    map.on('moveend', function () {
      var c = map.getCenter();
      state.map = map.getZoom() + '/' + c.lat.toFixed(4) + '/' + c.lng.toFixed(4);
      writeUrl(state);
    });
    drawAll(cfg.sites);
    run();
  }
  window.InvestorWorkspace = {state: ws, run: function () { readForm(); run(); }};
  var wait = setInterval(function () {
    if (window.GeoMaps && GeoMaps.map) { clearInterval(wait); start(); }
  }, 20);
}
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', investorWorkspace);
} else {
  investorWorkspace();
}
