/* geo-planner.js: the planner workspace (served by the service, no CDN, no inline handlers).
 *
 * Draw a polygon (Leaflet-Geoman), upload a file or pick a zoning area; the site goes to
 * POST /analyses/site-check?f=panel and the report (server-rendered, escaped HTML) appears in the side
 * panel, with the site and its hit areas drawn on the map. GeoMaps.workspace exposes the state for tests:
 * {checks, lastMs (request to report on screen), lastReport}.
 */
(function () {
  'use strict';

  var ws = {checks: 0, lastMs: null, lastReport: null, busy: false, errors: []};
  var panel, statusEl, reportEl, pdfBtn, fileInput, choose, chooseLabel;
  var hitLayer = null;
  var lastGeometry = null;
  var lang = 'nb';

  function text(key) { return panel.getAttribute('data-label-' + key) || key; }

  function setStatus(msg) { statusEl.textContent = msg || ''; }

  function drawHits(fc) {
    var map = GeoMaps.map;
    if (hitLayer) { map.removeLayer(hitLayer); }
    hitLayer = L.geoJSON(fc, {
      pmIgnore: true,
      style: function (f) {
        var p = f.properties || {};
        if (p.role === 'site') { return {color: '#000000', weight: 3, fill: false, dashArray: null}; }
        return {color: '#000000', weight: 1, fillColor: p.colour, fillOpacity: 0.6};
      },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        var name = p.role === 'site' ? text('site') : (lang === 'en' ? p.title_en : p.title_nb);
        layer.bindTooltip(GeoMaps.esc(name), {sticky: true});
      }
    }).addTo(map);
    GeoMaps.layers.siteCheck = hitLayer;
  }

  function show(body, started) {
    reportEl.innerHTML = body.html;  // server-rendered through Jinja2 with autoescaping
    drawHits(body.hits);
    pdfBtn.hidden = false;
    ws.checks += 1;
    ws.lastReport = body.report || body;
    requestAnimationFrame(function () {
      ws.lastMs = Math.round(performance.now() - started);
      panel.setAttribute('data-checks', String(ws.checks));
    });
    setStatus('');
  }

  function fail(err) {
    ws.errors.push(String(err));
    setStatus(text('error') + ': ' + err);
    panel.setAttribute('data-error', String(err));
  }

  function readError(resp) {
    return resp.json().then(function (b) { return b.description || resp.statusText; },
      function () { return resp.statusText; });
  }

  function check(geometry) {
    lastGeometry = geometry;
    var started = performance.now();
    setStatus(text('checking'));
    return fetch(panel.getAttribute('data-check-url') + '?f=panel&lang=' + lang, {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(geometry)
    }).then(function (resp) {
      if (!resp.ok) { return readError(resp).then(function (m) { throw m; }); }
      return resp.json();
    }).then(function (body) { show(body, started); }).catch(fail);
  }

  function upload(index) {
    var file = fileInput.files && fileInput.files[0];
    if (!file) { return; }
    var form = new FormData();
    form.append('file', file);
    form.append('index', String(index || 0));
    var started = performance.now();
    setStatus(text('checking'));
    fetch(panel.getAttribute('data-upload-url') + '?f=panel&lang=' + lang, {method: 'POST', body: form})
      .then(function (resp) {
        if (!resp.ok) { return readError(resp).then(function (m) { throw m; }); }
        return resp.json();
      }).then(function (body) {
        choose.innerHTML = '';
        body.candidates.forEach(function (c) {
          var opt = document.createElement('option');
          opt.value = String(c.index);
          opt.textContent = c.label + ' (' + GeoMaps.fmt(c.area_daa, 1) + ' daa)';
          choose.appendChild(opt);
        });
        choose.value = String(body.chosen);
        chooseLabel.hidden = body.candidates.length < 2;
        lastGeometry = body.hits.features[0].geometry;
        show(body, started);
        if (hitLayer) { GeoMaps.map.fitBounds(hitLayer.getBounds(), {padding: [40, 40], maxZoom: 16}); }
      }).catch(fail);
  }

  function downloadPdf() {
    if (!lastGeometry) { return; }
    fetch(panel.getAttribute('data-pdf-url') + '?lang=' + lang, {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(lastGeometry)
    }).then(function (resp) {
      if (!resp.ok) { return readError(resp).then(function (m) { throw m; }); }
      return resp.blob();
    }).then(function (blob) {
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = lang === 'en' ? 'site-check.pdf' : 'arealanalyse.pdf';
      document.body.appendChild(a);
      a.click();
      a.remove();
    }).catch(fail);
  }

  // "Only business zones": risk zones whose arealformål is not business land are taken off the map (and back);
  // a class fetched while the filter is on is filtered as it arrives.
  var hiddenZones = [];
  function hideNonBusiness(layer) {
    layer.eachLayer(function (l) {
      if (l.feature && !l.feature.properties.business) { hiddenZones.push([layer, l]); layer.removeLayer(l); }
    });
  }
  function businessOnly(on) {
    if (on) {
      Object.keys(GeoMaps.layers).forEach(function (key) {
        if (key.indexOf('risk-') === 0) { hideNonBusiness(GeoMaps.layers[key]); }
      });
    } else {
      hiddenZones.forEach(function (pair) { pair[0].addLayer(pair[1]); });
      hiddenZones = [];
    }
    ws.businessOnly = on;
    ws.hiddenZones = hiddenZones.length;
  }
  GeoMaps.onLoad(function (name, layer) {
    if (ws.businessOnly && name.indexOf('risk-') === 0) { hideNonBusiness(layer); ws.hiddenZones = hiddenZones.length; }
  });

  function togglePanel(btn) {
    var open = document.body.classList.toggle('gm-ws-collapsed') === false;
    btn.setAttribute('aria-expanded', String(open));
    btn.textContent = text(open ? 'hide' : 'show');
    GeoMaps.map.invalidateSize();
  }

  // A zoning area's popup gets a button that checks that area.
  function offerZoneCheck(e) {
    var source = e.popup._source;
    if (!source || !source.feature || !source.toGeoJSON) { return; }
    var geom = source.feature.geometry;
    if (!geom || (geom.type !== 'Polygon' && geom.type !== 'MultiPolygon')) { return; }
    var root = e.popup.getElement();
    if (!root || root.querySelector('.gm-check-zone')) { return; }
    var content = root.querySelector('.leaflet-popup-content');
    var btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'gm-check-zone';
    btn.textContent = text('check-zone');
    btn.addEventListener('click', function () {
      GeoMaps.map.closePopup();
      check(source.toGeoJSON().geometry);
    });
    content.appendChild(btn);
    // re-measure and pan so the button is in view (update() would rebuild the content without it)
    if (e.popup._updateLayout) { e.popup._updateLayout(); e.popup._updatePosition(); e.popup._adjustPan(); }
  }

  function init() {
    panel = document.getElementById('gm-ws');
    if (!panel || !window.GeoMaps || !GeoMaps.map) { return; }
    lang = panel.getAttribute('data-lang') || 'nb';
    statusEl = document.getElementById('gm-ws-status');
    reportEl = document.getElementById('gm-ws-report');
    pdfBtn = document.getElementById('gm-ws-pdf');
    fileInput = document.getElementById('gm-ws-file');
    choose = document.getElementById('gm-ws-candidates');
    chooseLabel = document.getElementById('gm-ws-choose-label');
    var map = GeoMaps.map;
    var region = map.getBounds();  // what the page was fitted to, before the panel took its width
    document.body.classList.add('gm-has-ws');
    map.invalidateSize();
    // not animated: an animated zoom ends ~250 ms later and would undo a view set meanwhile (a user's or a link's)
    map.fitBounds(region, {animate: false});
    if (map.pm) {
      map.pm.setLang(lang === 'en' ? 'en' : 'no');
      // no snapping: the outline is where the planner clicks (snapping to thousands of zone edges surprises)
      map.pm.setGlobalOptions({snappable: false});
      map.pm.addControls({
        position: 'topleft', drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
        drawText: false, drawRectangle: true, drawPolygon: true, editMode: false, dragMode: false, cutPolygon: false,
        removalMode: false, rotateMode: false
      });
      map.on('pm:create', function (e) {
        var geometry = e.layer.toGeoJSON().geometry;
        map.removeLayer(e.layer);  // the checked site is drawn with its hits instead
        check(geometry);
      });
    }
    map.on('popupopen', offerZoneCheck);
    fileInput.addEventListener('change', function () { upload(0); });
    choose.addEventListener('change', function () { upload(parseInt(choose.value, 10)); });
    pdfBtn.addEventListener('click', downloadPdf);
    var business = document.getElementById('gm-ws-business');
    business.addEventListener('change', function () { businessOnly(business.checked); });
    var toggle = document.getElementById('gm-ws-toggle');
    toggle.addEventListener('click', function () { togglePanel(toggle); });
  }

  GeoMaps.workspace = ws;
  ws.check = function (geometry) { return check(geometry); };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
