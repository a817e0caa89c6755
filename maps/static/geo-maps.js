/* geo-maps.js: the browser side of the geo-service maps (served by the service, no CDN).
 *
 * Layers, popups and the readiness state the browser tests read (GeoMaps.state). Popups are built here
 * from compact feature properties and the page's context (labels in the page language, rule texts), so a
 * map with thousands of zones does not carry thousands of copies of the same sentences.
 */
(function () {
  'use strict';

  // Leaflet 1.9 dropped L.DomEvent.fakeStop, which Leaflet.VectorGrid 1.3 calls when a canvas tile is clicked.
  if (window.L && L.DomEvent && !L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function (e) { e._stopped = true; };
  }

  var state = {layers: {}, pendingTiles: 0, pendingData: 0, ready: false, firstRenderMs: null, errors: []};
  var ctx = {lang: 'nb', labels: {}, rules: {}};
  var tileLayers = [];
  var layerOpts = {};
  var loadHooks = [];
  var fetches = {};

  function fetchJson(url) {
    if (!fetches[url]) {
      fetches[url] = fetch(url, {credentials: 'same-origin'}).then(function (resp) {
        if (!resp.ok) { throw new Error(url + ': HTTP ' + resp.status); }
        return resp.json();
      });
    }
    return fetches[url];
  }

  // A collection whose features carry their properties as lists (named once in `columns`): objects again.
  function expand(fc) {
    if (!fc.columns) { return fc; }
    var cols = fc.columns, features = fc.features;
    for (var i = 0; i < features.length; i++) {
      var row = features[i].properties, p = {};
      for (var k = 0; k < cols.length; k++) { p[cols[k]] = row[k]; }
      features[i].properties = p;
    }
    delete fc.columns;
    return fc;
  }

  function rgba(hex, alpha) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || '');
    if (!m) { return hex; }
    return 'rgba(' + parseInt(m[1], 16) + ', ' + parseInt(m[2], 16) + ', ' + parseInt(m[3], 16) + ', ' + alpha + ')';
  }

  // Popups are never covered: the controls over the map (title card, layer switcher, legend, drawing tools)
  // become the popup's auto-pan padding, its height is capped to the room left (the content scrolls), and
  // opening "Hvorfor" re-measures it, so its title never leaves the screen.
  function obstacles(map) {
    var box = map.getContainer().getBoundingClientRect();
    var top = 0, left = 0, bottom = 0;
    var els = document.querySelectorAll('#gm-card, .leaflet-control-container .leaflet-control');
    for (var i = 0; i < els.length; i++) {
      var r = els[i].getBoundingClientRect();
      if (!r.width || !r.height) { continue; }
      if (r.right - box.left < 80) { left = Math.max(left, r.right - box.left); }  // the tool column on the left
      else if (r.top - box.top < box.height / 2) { top = Math.max(top, r.bottom - box.top); }
      else { bottom = Math.max(bottom, box.bottom - r.top); }  // legend, scale: the popup stays above them
    }
    return {top: top + 8, left: left + 8, right: 8, bottom: bottom + 8, width: box.width, height: box.height};
  }

  function keepPopupInView(e) {
    var popup = e.popup;
    // an open layer switcher folds away (it opens again on hover), so it never lies over the popup
    var open = document.querySelectorAll('.leaflet-control-layers-expanded');
    for (var i = 0; i < open.length; i++) { L.DomUtil.removeClass(open[i], 'leaflet-control-layers-expanded'); }
    var root = popup.getElement();
    if (!root || root._gmWatched) { return; }
    root._gmWatched = true;
    root.addEventListener('toggle', function () { placePopup(popup); }, true);  // <details> opened or closed
    placePopup(popup);
  }

  function placePopup(popup) {
    var map = GeoMaps.map;
    if (!map || !popup.isOpen()) { return; }
    var room = obstacles(map);
    popup.options.autoPanPaddingTopLeft = L.point(room.left, room.top);
    popup.options.autoPanPaddingBottomRight = L.point(room.right, room.bottom);
    popup.options.maxHeight = Math.max(160, room.height - room.top - room.bottom - 70);
    popup.options.autoPan = true;
    popup._updateLayout();
    popup._updatePosition();
    popup._adjustPan();
  }

  function label(key) { return ctx.labels[key] || key; }

  function esc(value) {
    return String(value === null || value === undefined ? '' : value)
      .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  }

  // Same rule as maps.i18n.format_number: "12 345,6" (nb) or "12,345.6" (en).
  function fmt(value, decimals) {
    if (value === null || value === undefined || isNaN(value)) { return '–'; }
    var parts = Number(value).toFixed(decimals).split('.');
    var sep = ctx.lang === 'nb' ? '\u00a0' : ',';
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, sep);
    return parts.join(ctx.lang === 'nb' ? ',' : '.');
  }

  // The sentence true for a finding's outcome (inside / near / clear / not mapped / exempt / boundary),
  // from the rule's templates in the page context, with the same placeholders as maps/site_texts.yaml.
  function statement(rule, f) {
    var template = (rule.statements || {})[f[6]];
    if (!template) { return ''; }
    var own = f[5] && f[5] !== 'default';
    var pct = fmt((f[7] || 0) * 100, 1) + (ctx.lang === 'nb' ? ' %' : '%');
    var values = {
      hit_daa: fmt(f[2], 1) + ' daa', hit_m2: fmt((f[2] || 0) * 1000, 0) + ' m²', share: pct,
      distance: f[3] === null || f[3] === undefined ? '' : fmt(f[3], 0) + ' m',
      zone: fmt(f[4], 0) + ' m (' + label(own ? 'legend.belt_own' : 'legend.belt_default') + ')',
      proximity: fmt(f[8], 0) + ' m'
    };
    if (!values.distance) { template = template.replace(/\s*\([^()]*\{distance\}[^()]*\)|;[^;]*\{distance\}[^;.]*/g, ''); }
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? '–' : values[k]; });
  }

  function row(key, value) {
    return '<tr><th>' + esc(label(key)) + '</th><td>' + value + '</td></tr>';
  }

  function distanceKm(km) {
    return km < 1 ? fmt(km * 1000, 0) + ' ' + label('unit.m') : fmt(km, 1) + ' ' + label('unit.km');
  }

  function planText(p) {
    var type = p.plantype ? label('popup.plantype.' + p.plantype) : '';
    return esc(type) + (p.planid ? ' ' + esc(p.planid) : '');
  }

  function formalText(p) {
    return esc(p.arealformal === null || p.arealformal === undefined ? '–' : p.arealformal) +
      (p.formal_name ? ' ' + esc(p.formal_name) : '');
  }

  var popups = {
    site: function (p) {
      var html = '<div class="gm-popup gm-site"><h3>' + esc(p.name || p.formal_name || label('popup.zoning')) + '</h3>' +
        '<div class="gm-badge" style="background:' + esc(p.colour) + '">' + esc(label('status.' + p.status)) + '</div><table>';
      html += row('popup.area', '<b class="gm-area">' + fmt(p.area_daa, 1) + '</b> ' + esc(label('unit.daa')));
      if (p.net_daa !== null && p.net_daa !== undefined && Math.abs(p.net_daa - p.area_daa) >= 0.05) {
        html += row('popup.net_available', fmt(p.net_daa, 1) + ' ' + esc(label('unit.daa')));
      }
      html += row('popup.zoning', formalText(p));
      html += row('popup.plan', planText(p));
      html += row('popup.municipality', esc(p.kommunenavn || p.kommunenummer || '–'));
      if (p.centre_km !== null && p.centre_km !== undefined) {
        html += row('popup.town', distanceKm(p.centre_km) + ' (' + esc(p.centre_name) + ')');
      }
      if (p.road_km !== null && p.road_km !== undefined) {
        html += row('popup.road', distanceKm(p.road_km) + (p.road_label ? ' (' + esc(p.road_label) + ')' : ''));
      }
      if (p.rail_km !== null && p.rail_km !== undefined) {
        html += row('popup.rail', distanceKm(p.rail_km));
      }
      if (p.farmland_daa) {
        html += row('popup.farmland', fmt(p.farmland_daa, 1) + ' ' + esc(label('unit.daa')));
      }
      return html + '</table></div>';
    },

    risk: function (p) {
      var html = '<div class="gm-popup gm-risk"><h3>' + formalText(p) + '</h3>' +
        '<div class="gm-badge gm-risk-' + esc(p.risk) + '">' + esc(label('risk.' + p.risk)) + '</div><table>';
      html += row('popup.area', fmt(p.area_daa, 1) + ' ' + esc(label('unit.daa')));
      html += row('popup.plan', planText(p));
      if (p.planstatus !== null && p.planstatus !== undefined) {
        html += row('popup.planstatus', esc(p.planstatus) + ' ' + esc(label('popup.planstatus.' + p.planstatus)));
      }
      html += row('popup.municipality', esc(p.kommunenavn || p.kommunenummer || '–'));
      html += '</table>';
      var findings = p.findings || [];
      if (!findings.length) {
        return html + '<p class="gm-none">' + esc(label('popup.no_findings')) + '</p></div>';
      }
      html += '<h4>' + esc(label('popup.findings')) + '</h4><ol class="gm-findings">';
      for (var i = 0; i < findings.length; i++) {
        // [rule_id, risk, overlap_daa, distance_m, zone_m, zone_m_source, outcome, share, proximity_m]
        var f = findings[i];
        var rule = ctx.rules[f[0]] || {};
        var outcome = f[6] || '';
        html += '<li class="gm-finding gm-risk-' + esc(f[1]) + '" data-rule="' + esc(f[0]) + '" data-outcome="' +
          esc(outcome) + '">' + '<b>' + esc(rule.title || label('theme.' + rule.theme)) + '</b> – ' +
          esc(label('risk.' + f[1])) + '<br>';
        var sentence = statement(rule, f);
        if (sentence) { html += '<span class="gm-statement">' + esc(sentence) + '</span><br>'; }
        var facts = [];
        if (f[2]) { facts.push(esc(label('popup.overlap')) + ' ' + fmt(f[2], 1) + ' ' + esc(label('unit.daa'))); }
        else if (f[3] !== null && f[3] !== undefined) { facts.push(esc(label('popup.distance')) + ' ' + fmt(f[3], 0) + ' ' + esc(label('unit.m'))); }
        if (f[4]) {
          facts.push(esc(label('popup.zone_m')) + ' ' + fmt(f[4], 0) + ' ' + esc(label('unit.m')) + ' (' +
            esc(label(f[5] && f[5] !== 'default' ? 'legend.belt_own' : 'legend.belt_default')) + ')');
        }
        if (facts.length) { html += facts.join(' · ') + '<br>'; }
        html += '<span class="gm-authority">' + esc(label('popup.authority')) + ': ' + esc(rule.authority) + '</span><br>' +
          '<span class="gm-legal">' + esc(label('popup.legal_basis')) + ': ' + esc(rule.legal_basis) + '</span>';
        var why = outcome === 'inside' ? rule.explanation : (rule.next || {})[outcome];
        if (why) {
          html += '<details><summary>' + esc(label('popup.why')) + '</summary>' + esc(why) + '</details>';
        }
        html += '</li>';
      }
      return html + '</ol></div>';
    },

    zone: function (p) {
      var rule = ctx.rules[p.rule_id] || {};
      var title = ctx.labels['zone.' + p.rule_id] || rule.title || p.rule_id;
      var html = '<div class="gm-popup gm-zone"><h3>' + esc(title) + '</h3><table>';
      html += row('popup.zone_m', fmt(p.zone_m, 0) + ' ' + esc(label('unit.m')) + ' (' +
        esc(label(p.source && p.source !== 'default' ? 'legend.belt_own' : 'legend.belt_default')) + ')');
      if (p.kommunenavn) { html += row('popup.municipality', esc(p.kommunenavn)); }
      html += row('popup.authority', esc(rule.authority));
      html += row('popup.legal_basis', esc(rule.legal_basis));
      return html + '</table></div>';
    },

    properties: function (p) {
      var html = '<div class="gm-popup gm-properties"><table>';
      for (var key in p) {
        if (Object.prototype.hasOwnProperty.call(p, key)) {
          var value = p[key];
          if (typeof value === 'string' && value.length > 300) { value = value.slice(0, 300) + ' …'; }
          html += '<tr><th>' + esc(key) + '</th><td>' + esc(value) + '</td></tr>';
        }
      }
      return html + '</table></div>';
    }
  };

  function register(name, info) {
    state.layers[name] = info;
    return info;
  }

  // The style at the map's current zoom: `detail.style` from `detail.minZoom` on, else the layer's own.
  function zoomStyle(opts) {
    var map = GeoMaps.map;
    if (opts.detail && map && map.getZoom() >= opts.detail.minZoom) { return opts.detail.style; }
    return opts.style || {};
  }

  function styleFor(opts, props) {
    if (opts.detail) { return zoomStyle(opts); }
    if (opts.styleBy) {
      var value = props[opts.styleBy.property];
      return opts.styleBy.styles[String(value)] || opts.styleBy.fallback || opts.style || {};
    }
    return opts.style || {};
  }

  var GeoMaps = {
    state: state,
    layers: {},  // by key, for scripts and tests: the Leaflet layer each GeoMaps.* call made
    popups: popups,
    fmt: fmt,
    esc: esc,

    init: function (context) {
      ctx = context;
      GeoMaps.ctx = ctx;
    },

    // Inline GeoJSON (small layers): style, popup renderer, permanent labels, feature count.
    geojson: function (name, data, opts) {
      data = expand(data);
      var info = register(name, {type: 'geojson', features: data.features.length, visible: false});
      var layer = L.geoJSON(data, {
        style: function (feature) { return styleFor(opts, feature.properties); },
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, styleFor(opts, feature.properties));
        },
        onEachFeature: function (feature, lyr) {
          if (opts.popup && popups[opts.popup]) {
            lyr.bindPopup(function () { return popups[opts.popup](feature.properties); },
              {maxWidth: 380, className: 'gm-popup-wrap'});
          }
          if (opts.label && feature.properties[opts.label]) {
            lyr.bindTooltip(esc(feature.properties[opts.label]),
              {permanent: true, direction: 'center', className: 'gm-label', interactive: false});
          }
          if (opts.tooltip && feature.properties[opts.tooltip]) {
            lyr.bindTooltip(esc(feature.properties[opts.tooltip]), {sticky: true});
          }
        }
      });
      layer.on('add', function () { info.visible = true; });
      layer.on('remove', function () { info.visible = false; });
      GeoMaps.layers[name] = layer;
      layerOpts[name] = opts;
      if (opts.detail) {
        // one setStyle when the zoom crosses detail.minZoom, not one per zoom step
        var detailed = null;
        var restyle = function () {
          var now = GeoMaps.map.getZoom() >= opts.detail.minZoom;
          if (now !== detailed) { detailed = now; layer.setStyle(zoomStyle(opts)); info.detailed = now; }
          GeoMaps.syncLegend();
        };
        layer.on('add', function (e) {
          GeoMaps.map = GeoMaps.map || e.target._map;  // layers are added before GeoMaps.finish(map)
          e.target._map.on('zoomend', restyle);
          restyle();
        });
        layer.on('remove', function (e) { if (GeoMaps.map) { GeoMaps.map.off('zoomend', restyle); } });
      }
      if (!opts.points) { return layer; }
      // Small polygons vanish at region zoom: below `belowZoom` each one is also drawn as a dot.
      var dots = L.layerGroup();
      layer.eachLayer(function (lyr) {
        var style = styleFor(opts, lyr.feature.properties);
        var dot = L.circleMarker(lyr.getBounds().getCenter(), {
          radius: opts.points.radius || 5, color: '#ffffff', weight: 1.5, opacity: 1,
          fillColor: style.fillColor || style.color, fillOpacity: 0.95});
        if (opts.popup && popups[opts.popup]) {
          dot.bindPopup(function () { return popups[opts.popup](lyr.feature.properties); },
            {maxWidth: 380, className: 'gm-popup-wrap'});
        }
        if (opts.tooltip && lyr.feature.properties[opts.tooltip]) {
          dot.bindTooltip(esc(lyr.feature.properties[opts.tooltip]), {sticky: true});
        }
        dots.addLayer(dot);
      });
      info.dots = dots.getLayers().length;
      var group = L.layerGroup([layer]);
      function sync() {
        var map = group._map;
        if (!map) { return; }
        var want = map.getZoom() < opts.points.belowZoom;
        if (want && !group.hasLayer(dots)) { group.addLayer(dots); }
        if (!want && group.hasLayer(dots)) { group.removeLayer(dots); }
        info.dotsVisible = want;
      }
      var boundMap = null;
      group.on('add', function (e) { info.visible = true; boundMap = e.target._map; boundMap.on('zoomend', sync); sync(); });
      group.on('remove', function () { info.visible = false; if (boundMap) { boundMap.off('zoomend', sync); } });
      group.polygons = layer;
      group.dots = dots;
      GeoMaps.layers[name] = group;
      return group;
    },

    // GeoJSON fetched from the service when the layer is first shown (the page is a light shell). Layers that
    // share a URL share one request; `part` picks their collection out of the document.
    remote: function (name, url, part, opts) {
      var layer = GeoMaps.geojson(name, {type: 'FeatureCollection', features: []}, opts);
      var info = state.layers[name];
      info.remote = true;
      info.loaded = false;
      var started = false;
      layer.on('add', function () {
        if (started) { return; }
        started = true;
        state.pendingData += 1;
        info.requestedMs = Math.round(performance.now());
        fetchJson(url).then(function (doc) {
          var fc = expand(part ? doc[part] : doc);
          info.parsedMs = Math.round(performance.now());  // downloaded and parsed
          layer.addData(fc);
          info.addedMs = Math.round(performance.now());  // Leaflet layers made (drawn on the next frame)
          info.features = fc.features.length;
          info.loaded = true;
          for (var i = 0; i < loadHooks.length; i++) { loadHooks[i](name, layer); }
        }).catch(function (err) {
          info.error = String(err);
          state.errors.push(info.error);
          if (window.console) { console.error('geo-maps: ' + name + ': ' + info.error); }
        }).then(function () {
          state.pendingData -= 1;
          GeoMaps._check();
        });
      });
      return layer;
    },

    // Called with (name, layer) each time a fetched layer has its data (e.g. to re-apply a filter).
    onLoad: function (fn) { loadHooks.push(fn); },

    // The style a layer is drawn with now (the legend swatches follow it).
    styleOf: function (name) {
      var opts = layerOpts[name];
      return opts ? zoomStyle(opts) : null;
    },

    // The legend lists what is drawn: a row for each layer on the map, its swatch in the layer's style now.
    syncLegend: function () {
      var map = GeoMaps.map;
      var legend = document.getElementById('gm-legend');
      if (!map || !legend) { return; }
      var rows = legend.querySelectorAll('.gm-entry[data-layer]');
      for (var i = 0; i < rows.length; i++) {
        var key = rows[i].getAttribute('data-layer');
        var layer = GeoMaps.layers[key];
        var on = !!(layer && map.hasLayer(layer));
        rows[i].hidden = !on;
        var style = GeoMaps.styleOf(key);
        var swatch = rows[i].querySelector('.gm-swatch');
        if (!style || !swatch) { continue; }
        if (/gm-line|gm-dashed/.test(swatch.className)) {
          swatch.style.borderColor = style.color;
        } else {
          var alpha = style.fill === false ? 0 : (style.fillOpacity === undefined ? 0.2 : style.fillOpacity);
          swatch.style.backgroundColor = rgba(style.fillColor || style.color, alpha);
          swatch.style.borderColor = style.color || style.fillColor;
        }
      }
      var boxes = legend.querySelectorAll('.gm-legend-box');
      for (var j = 0; j < boxes.length; j++) {
        var shown = boxes[j].querySelectorAll('.gm-entry:not([hidden])').length;
        boxes[j].setAttribute('data-shown', String(shown));
      }
    },

    // Vector tiles from the service (large layers): canvas tiles, click popups, loading tracked.
    vectorTiles: function (name, url, layerName, opts) {
      var info = register(name, {type: 'tiles', tilesLoaded: 0, tilesRequested: 0, featuresDrawn: 0,
                                 visible: false, loading: false});
      var styles = {};
      styles[layerName] = function (props) {
        var s = styleFor(opts, props);
        if (opts.only && opts.only.values.indexOf(props[opts.only.property]) < 0) { return []; }
        info.featuresDrawn += 1;
        if (props.generalised) {  // low-zoom coverage cells: fill only, or their edges would mesh into mud
          s = L.extend({}, s, {stroke: false, weight: 0});
        }
        return s;
      };
      var layer = L.vectorGrid.protobuf(url, {
        rendererFactory: L.canvas.tile,
        vectorTileLayerStyles: styles,
        interactive: true,
        maxNativeZoom: opts.maxNativeZoom || 16,
        minZoom: opts.minZoom || 0,
        attribution: opts.attribution || ''
      });
      layer.on('tileloadstart', function () { info.tilesRequested += 1; });
      layer.on('tileload', function () { info.tilesLoaded += 1; });
      layer.on('loading', function () { info.loading = true; });
      layer.on('load', function () { info.loading = false; GeoMaps._check(); });
      layer.on('add', function () { info.visible = true; });
      layer.on('remove', function () { info.visible = false; info.loading = false; GeoMaps._check(); });
      layerOpts[name] = opts;
      layer.on('click', function (e) {
        var renderer = popups[opts.popup || 'properties'];
        L.popup({maxWidth: 380, className: 'gm-popup-wrap'}).setLatLng(e.latlng)
          .setContent(renderer(e.layer.properties || {})).openOn(layer._map);
      });
      tileLayers.push(layer);
      GeoMaps.layers[name] = layer;
      return layer;
    },

    // Called at the end of the page script: the first full render is when every visible tile layer has
    // loaded its tiles and the browser has painted twice since.
    finish: function (map) {
      GeoMaps.map = map;
      GeoMaps._finishing = true;
      map.on('overlayadd overlayremove zoomend', GeoMaps.syncLegend);
      map.on('popupopen', keepPopupInView);
      GeoMaps.syncLegend();
      GeoMaps._check();
    },

    _check: function () {
      if (!GeoMaps._finishing || state.ready) { return; }
      if (state.pendingData > 0) { return; }
      for (var i = 0; i < tileLayers.length; i++) {
        var l = tileLayers[i];
        if (l._map && (l._loading || l.isLoading && l.isLoading())) { return; }
      }
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          if (state.ready) { return; }
          state.firstRenderMs = Math.round(performance.now());
          state.ready = true;
          document.documentElement.setAttribute('data-map-ready', 'true');
        });
      });
    }
  };

  window.addEventListener('error', function (e) { state.errors.push(String(e.message)); });
  window.GeoMaps = GeoMaps;
}());
