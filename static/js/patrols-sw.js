/* Service worker of the patrol phone page: the page and its assets open with no network.
 * Static assets: cache first. The page: network first, the cached copy when offline.
 * API calls are never cached (the page queues fixes itself and uploads when back online). */
"use strict";
var CACHE = "wuwei-patrols-v2";
// The page and everything its map needs (the layers themselves are API calls: not cached).
var ASSETS = ["/patrols/phone", "/static/css/wuwei.css", "/static/css/patrols.css", "/static/js/patrols-phone.js",
              "/static/js/pages.js", "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
              "/static/js/wuwei-map.js", "/static/css/wuwei-map.css", "/static/icons/favicon.svg"];

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(ASSETS); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("wuwei-patrols-") === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (e) {
  var req = e.request, url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    e.respondWith(caches.match(req).then(function (hit) {
      return hit || fetch(req).then(function (r) {
        if (r.ok) { var copy = r.clone(); caches.open(CACHE).then(function (c) { c.put(req, copy); }); }
        return r;
      });
    }));
    return;
  }
  if (url.pathname === "/patrols/phone") {
    e.respondWith(fetch(req).then(function (r) {
      if (r.ok && !r.redirected) { var copy = r.clone(); caches.open(CACHE).then(function (c) { c.put("/patrols/phone", copy); }); }
      return r;
    }).catch(function () { return caches.match("/patrols/phone"); }));
  }
});
