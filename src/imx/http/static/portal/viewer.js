// imx study viewer: vanilla JS + canvas over the node's own DICOMweb (docs/portal.md).
// QIDO-RS lists series and instances, WADO-RS series metadata gives geometry, rescale and the
// header view, WADO-RS frames (application/octet-stream, decompressed by the server when
// needed) give raw 8/16-bit pixels; window/level is applied here, on modality values (HU).
"use strict";
(function () {
  const PRESETS = { lung: [1500, -600], bone: [2000, 300], soft: [400, 40] };
  const OCTET = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
  const $ = (id) => document.getElementById(id);
  const tag = (ds, t) => { const e = ds[t]; return e && e.Value ? e.Value[0] : undefined; };
  const num = (ds, t, d) => { const v = tag(ds, t); return v === undefined ? d : Number(v); };

  const state = {
    base: "/dicom-web", study: "", series: [], slices: [], meta: {}, index: 0,
    cache: new Map(), pending: new Map(), ww: 400, wc: 40, zoom: 1, panX: 0, panY: 0,
    defaultWL: [400, 40], preset: "default", onOpen: null,
  };
  const offscreen = document.createElement("canvas");

  async function json(url) {
    const r = await fetch(url, { headers: { Accept: "application/dicom+json" } });
    if (r.status === 204) return [];
    if (!r.ok) throw new Error(`${r.status} from ${url}`);
    return r.json();
  }

  function firstPart(buf, contentType) {
    // One part of multipart/related (PS3.18 8.7.3.3.2): the bytes between the header block
    // and the next boundary.
    const m = /boundary="?([^";]+)"?/i.exec(contentType || "");
    const bytes = new Uint8Array(buf);
    if (!m) return bytes;
    const enc = new TextEncoder();
    const find = (needle, from) => {
      outer: for (let i = from; i <= bytes.length - needle.length; i++) {
        for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    };
    const start = find(enc.encode("\r\n\r\n"), find(enc.encode("--" + m[1]), 0)) + 4;
    const end = find(enc.encode("\r\n--" + m[1]), start);
    return bytes.subarray(start, end < 0 ? bytes.length : end);
  }

  async function loadSlice(i) {
    if (state.cache.has(i)) return state.cache.get(i);
    if (state.pending.has(i)) return state.pending.get(i);
    const s = state.slices[i];
    const url = `${state.base}/studies/${state.study}/series/${s.series}/instances/${s.sop}/frames/1`;
    const p = fetch(url, { headers: { Accept: OCTET } }).then(async (r) => {
      if (!r.ok) throw new Error(`frame ${i + 1}: HTTP ${r.status}`);
      const raw = firstPart(await r.arrayBuffer(), r.headers.get("content-type"));
      const ds = state.meta[s.sop] || {};
      const rows = num(ds, "00280010", 0), cols = num(ds, "00280011", 0);
      const bits = num(ds, "00280100", 16), signed = num(ds, "00280103", 0) === 1;
      const slope = num(ds, "00281053", 1), intercept = num(ds, "00281052", 0);
      const copy = raw.slice().buffer;
      const px = bits === 8 ? new Uint8Array(copy)
        : signed ? new Int16Array(copy, 0, rows * cols) : new Uint16Array(copy, 0, rows * cols);
      const values = new Float32Array(rows * cols);
      for (let k = 0; k < values.length; k++) values[k] = px[k] * slope + intercept;
      const inverted = tag(ds, "00280004") === "MONOCHROME1";
      const slice = { rows, cols, values, inverted };
      state.cache.set(i, slice);
      state.pending.delete(i);
      return slice;
    });
    state.pending.set(i, p);
    return p;
  }

  function paint() {
    const canvas = $("image"), ctx = canvas.getContext("2d");
    const slice = state.cache.get(state.index);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!slice) return;
    offscreen.width = slice.cols; offscreen.height = slice.rows;
    const octx = offscreen.getContext("2d");
    const img = octx.createImageData(slice.cols, slice.rows);
    const lo = state.wc - 0.5 - (state.ww - 1) / 2, span = Math.max(state.ww - 1, 1);
    for (let k = 0; k < slice.values.length; k++) {
      // PS3.3 C.11.2.1.2.1 linear VOI function
      let g = ((slice.values[k] - lo) / span) * 255;
      g = g < 0 ? 0 : g > 255 ? 255 : g;
      if (slice.inverted) g = 255 - g;
      const o = k * 4;
      img.data[o] = img.data[o + 1] = img.data[o + 2] = g; img.data[o + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    const fit = Math.min(canvas.width / slice.cols, canvas.height / slice.rows) * state.zoom;
    ctx.imageSmoothingEnabled = true;
    ctx.setTransform(fit, 0, 0, fit, canvas.width / 2 + state.panX - (slice.cols * fit) / 2,
      canvas.height / 2 + state.panY - (slice.rows * fit) / 2);
    ctx.drawImage(offscreen, 0, 0);
    $("overlay").textContent = `Slice ${state.index + 1} / ${state.slices.length} · ` +
      `W ${Math.round(state.ww)} L ${Math.round(state.wc)} · zoom ${state.zoom.toFixed(2)}×`;
    canvas.dataset.rendered = String(state.index + 1);
  }

  async function show(i) {
    if (!state.slices.length) return;
    state.index = Math.max(0, Math.min(state.slices.length - 1, i));
    $("slice").value = String(state.index + 1);
    const want = state.index;
    try {
      await loadSlice(want);
    } catch (e) {
      $("overlay").textContent = String(e.message || e);
      return;
    }
    if (want === state.index) paint();
    for (const n of [want + 1, want - 1, want + 2]) {  // read ahead while the user scrolls
      if (n >= 0 && n < state.slices.length) loadSlice(n).catch(() => {});
    }
    if (!$("header-panel").hidden) renderHeader();
  }

  function setPreset(name) {
    const wl = name === "default" ? state.defaultWL : PRESETS[name];
    [state.ww, state.wc] = wl;
    state.preset = name;
    document.querySelectorAll("[data-preset]").forEach((b) =>
      b.setAttribute("aria-pressed", String(b.dataset.preset === name)));
    paint();
  }

  function renderHeader() {
    const s = state.slices[state.index];
    const ds = (s && state.meta[s.sop]) || {};
    const filter = $("header-filter").value.toLowerCase();
    const body = $("header-table").tBodies[0];
    body.textContent = "";
    for (const [t, e] of Object.entries(ds)) {
      let v = e.Value ? e.Value.map((x) => (typeof x === "object" ? (x.Alphabetic || "[item]") : x)).join("\\")
        : e.BulkDataURI ? "[bulk data]" : e.InlineBinary ? "[binary]" : "";
      if (v.length > 120) v = v.slice(0, 117) + "…";
      const text = `(${t.slice(0, 4)},${t.slice(4)}) ${e.vr} ${v}`;
      if (filter && !text.toLowerCase().includes(filter)) continue;
      const tr = body.insertRow();
      tr.insertCell().textContent = `(${t.slice(0, 4)},${t.slice(4)})`;
      tr.insertCell().textContent = e.vr;
      tr.insertCell().textContent = v;
    }
  }

  async function openSeries(seriesUid) {
    document.querySelectorAll("#series button").forEach((b) =>
      b.setAttribute("aria-pressed", String(b.dataset.series === seriesUid)));
    const [instances, metadata] = await Promise.all([
      json(`${state.base}/studies/${state.study}/series/${seriesUid}/instances`),
      json(`${state.base}/studies/${state.study}/series/${seriesUid}/metadata`),
    ]);
    state.meta = {};
    for (const ds of metadata) state.meta[tag(ds, "00080018")] = ds;
    state.slices = instances.map((ds) => ({ series: seriesUid, sop: tag(ds, "00080018"),
      n: num(ds, "00200013", 0) })).sort((a, b) => a.n - b.n);
    state.cache.clear(); state.pending.clear();
    $("slice").max = String(state.slices.length);
    const first = state.meta[state.slices[0] && state.slices[0].sop] || {};
    state.defaultWL = [num(first, "00281051", 400), num(first, "00281050", 40)];
    state.zoom = 1; state.panX = state.panY = 0;
    [state.ww, state.wc] = state.preset === "default" ? state.defaultWL : PRESETS[state.preset];
    await show(Math.floor(state.slices.length / 2));
  }

  async function open(studyUid, base) {
    state.study = studyUid; state.base = base || "/dicom-web";
    const series = await json(`${state.base}/studies/${studyUid}/series`);
    series.sort((a, b) => num(a, "00200011", 0) - num(b, "00200011", 0));
    const list = $("series");
    list.textContent = "";
    for (const ds of series) {
      const uid = tag(ds, "0020000E");
      const desc = tag(ds, "0008103E") || "";
      const count = num(ds, "00201209", 0);
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button"; b.dataset.series = uid;
      b.setAttribute("aria-label", `Series ${num(ds, "00200011", "")} ${desc}, ${count} images`);
      const img = document.createElement("img");
      img.alt = "";
      img.loading = "lazy";
      json(`${state.base}/studies/${studyUid}/series/${uid}/instances?limit=1&offset=${Math.floor(count / 2)}`)
        .then((r) => { if (r[0]) img.src = `${state.base}/studies/${studyUid}/series/${uid}/instances/${tag(r[0], "00080018")}/rendered?viewport=96,96`; })
        .catch(() => {});
      const cap = document.createElement("span");
      cap.textContent = `${desc || "Series"} (${count})`;
      b.append(img, cap);
      b.addEventListener("click", () => openSeries(uid));
      li.append(b); list.append(li);
    }
    if (series.length) await openSeries(tag(series[0], "0020000E"));
    $("image").focus();
  }

  function bind() {
    const canvas = $("image");
    $("slice").addEventListener("input", (e) => show(Number(e.target.value) - 1));
    document.querySelectorAll("[data-preset]").forEach((b) =>
      b.addEventListener("click", () => setPreset(b.dataset.preset)));
    const zoom = (f) => { state.zoom = Math.max(0.25, Math.min(16, state.zoom * f)); paint(); };
    $("zoom-in").addEventListener("click", () => zoom(1.25));
    $("zoom-out").addEventListener("click", () => zoom(0.8));
    $("reset").addEventListener("click", () => { state.zoom = 1; state.panX = state.panY = 0; setPreset("default"); });
    $("header-toggle").addEventListener("click", () => {
      const panel = $("header-panel"); panel.hidden = !panel.hidden;
      $("header-toggle").setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) renderHeader();
    });
    $("header-filter").addEventListener("input", renderHeader);
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (e.ctrlKey) zoom(e.deltaY < 0 ? 1.1 : 0.9); else show(state.index + (e.deltaY > 0 ? 1 : -1));
    }, { passive: false });
    let drag = null;
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      drag = { x: e.clientX, y: e.clientY, wl: e.button === 2 || e.altKey };
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.x = e.clientX; drag.y = e.clientY;
      if (drag.wl) { state.ww = Math.max(1, state.ww + dx * 4); state.wc += dy * 2; state.preset = "custom"; }
      else { state.panX += dx; state.panY += dy; }
      paint();
    });
    canvas.addEventListener("pointerup", () => { drag = null; });
    document.addEventListener("keydown", (e) => {
      if ($("view-viewer").hidden || /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
      const k = e.key, step = 20;
      if (e.shiftKey && k.startsWith("Arrow")) {
        if (k === "ArrowLeft") state.panX -= step; if (k === "ArrowRight") state.panX += step;
        if (k === "ArrowUp") state.panY -= step; if (k === "ArrowDown") state.panY += step;
        paint();
      } else if (k === "ArrowDown" || k === "ArrowRight" || k === "PageDown") show(state.index + 1);
      else if (k === "ArrowUp" || k === "ArrowLeft" || k === "PageUp") show(state.index - 1);
      else if (k === "Home") show(0);
      else if (k === "End") show(state.slices.length - 1);
      else if (k === "0") setPreset("default");
      else if (k === "1") setPreset("lung");
      else if (k === "2") setPreset("bone");
      else if (k === "3") setPreset("soft");
      else if (k === "+" || k === "=") zoom(1.25);
      else if (k === "-") zoom(0.8);
      else if (k === "r") $("reset").click();
      else if (k === "h") $("header-toggle").click();
      else return;
      e.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", bind);
  window.ImxViewer = { open, state };
})();
