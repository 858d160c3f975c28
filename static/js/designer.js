// The label designer: the custom area (自定义区) drawn over the label's preview PNG.
// Each field is a box that moves (drag) and resizes (drag its corner) with the mouse,
// snapped to 0.5 mm and kept inside the custom area; the table beside it edits the same
// numbers. The preview is redrawn from the unsaved draft after each change; Save posts
// the whole custom area and shows a refusal next to the field it names. Leaving the page
// with unsaved changes asks first (beforeunload).
(function () {
  "use strict";

  var form = document.getElementById("designer");
  var dataTag = document.getElementById("designer-data");
  if (!form || !dataTag) { return; }

  var data = JSON.parse(dataTag.textContent);
  var S = data.strings;
  var scale = data.scale;            // screen px per mm
  var snapStep = data.snap;          // mm
  var boxW = data.box.w, boxH = data.box.h;
  var MIN_SIZE = 2;                  // mm
  var KEYS = data.catalogue.map(function (c) { return c.key; });

  var overlay = document.getElementById("designer-box");
  var rows = document.getElementById("designer-rows");
  var hidden = document.getElementById("designer-fields-input");
  var img = document.getElementById("designer-preview");
  var status = document.getElementById("designer-status");
  var addKey = document.getElementById("designer-add-key");
  var addBtn = document.getElementById("designer-add");
  var previewBase = form.dataset.previewBase;

  var fields = sanitize(data.fields);
  var errors = data.errors || {};
  var selected = -1;
  var drag = null;
  var previewSeq = 0, previewTimer = null, blobUrl = null;

  // --- numbers ------------------------------------------------------------------------------

  function round1(v) { return Math.round(v * 10) / 10; }
  function snap(v) { return round1(Math.round(v / snapStep) * snapStep); }
  function floorSnap(v) { return round1(Math.floor((v + 1e-6) / snapStep) * snapStep); }
  function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), Math.max(hi, lo)); }
  function num(v, fallback) { var n = parseFloat(v); return isFinite(n) ? n : fallback; }
  function isQr(f) { return f.key === "qr_code"; }

  function sanitize(list) {
    if (!Array.isArray(list)) { return []; }
    return list.filter(function (f) { return f && KEYS.indexOf(f.key) !== -1; }).map(function (f) {
      return {
        key: f.key, x: num(f.x, 0), y: num(f.y, 0), w: num(f.w, 20), h: num(f.h, 5),
        font_size: f.key === "qr_code" ? 0 : num(f.font_size, 9), bold: !!f.bold
      };
    });
  }

  // keep a field typed into the table inside the custom area
  function floor1(v) { return Math.floor((v + 1e-6) * 10) / 10; }
  function fit(f) {
    f.w = clamp(round1(f.w), MIN_SIZE, floor1(boxW));
    f.h = clamp(round1(f.h), MIN_SIZE, floor1(boxH));
    if (isQr(f)) { f.w = f.h = Math.min(f.w, f.h); }
    f.x = clamp(round1(f.x), 0, floor1(boxW - f.w));
    f.y = clamp(round1(f.y), 0, floor1(boxH - f.h));
    // a font size out of range is left for the server to refuse, next to the field
    return f;
  }

  // what the server would refuse: no preview is asked for until it is fixed
  function valid(f) {
    return f.w > 0 && f.h > 0 && f.x >= 0 && f.y >= 0 && f.x + f.w <= boxW + 0.05 &&
      f.y + f.h <= boxH + 0.05 && (isQr(f) || (f.font_size >= data.min_font && f.font_size <= data.max_font));
  }

  // --- drawing ------------------------------------------------------------------------------

  function place(el, f) {
    el.style.left = f.x * scale + "px";
    el.style.top = f.y * scale + "px";
    el.style.width = f.w * scale + "px";
    el.style.height = f.h * scale + "px";
    el.title = S.labels[f.key] + " · " + f.x + ", " + f.y + " mm · " + f.w + "×" + f.h + " mm" +
      (isQr(f) ? "" : " · " + f.font_size + " pt");
  }

  function renderBoxes() {
    overlay.querySelectorAll(".designer-field").forEach(function (el) { el.remove(); });
    fields.forEach(function (f, i) {
      var el = document.createElement("div");
      el.className = "designer-field" + (isQr(f) ? " qr" : "") + (i === selected ? " selected" : "") +
        (errors["custom_fields[" + i + "]"] ? " invalid" : "");
      el.dataset.index = i;
      el.dataset.key = f.key;
      el.setAttribute("data-testid", "field-box-" + i);
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", S.labels[f.key]);
      var label = document.createElement("span");
      label.className = "designer-field-label";
      label.textContent = S.labels[f.key];
      el.appendChild(label);
      var handle = document.createElement("span");
      handle.className = "designer-handle";
      handle.setAttribute("data-testid", "field-handle-" + i);
      el.appendChild(handle);
      place(el, f);
      overlay.appendChild(el);
    });
  }

  function cellInput(i, prop, value, attrs) {
    var input = document.createElement("input");
    input.type = "number";
    input.step = "0.5";
    input.value = value;
    input.dataset.index = i;
    input.dataset.prop = prop;
    input.setAttribute("data-testid", (prop === "font_size" ? "font-size" : prop) + "-" + i);
    Object.keys(attrs || {}).forEach(function (k) { input.setAttribute(k, attrs[k]); });
    var td = document.createElement("td");
    td.appendChild(input);
    return td;
  }

  function renderRows() {
    rows.innerHTML = "";
    fields.forEach(function (f, i) {
      var tr = document.createElement("tr");
      tr.dataset.index = i;
      tr.setAttribute("data-testid", "field-row-" + i);
      if (i === selected) { tr.className = "selected"; }
      if (errors["custom_fields[" + i + "]"]) { tr.className += " invalid"; }
      var name = document.createElement("td");
      name.textContent = S.labels[f.key];
      tr.appendChild(name);
      tr.appendChild(cellInput(i, "x", f.x, { min: 0, "aria-label": "x" }));
      tr.appendChild(cellInput(i, "y", f.y, { min: 0, "aria-label": "y" }));
      tr.appendChild(cellInput(i, "w", f.w, { min: MIN_SIZE, "aria-label": "w" }));
      tr.appendChild(cellInput(i, "h", f.h, { min: MIN_SIZE, "aria-label": "h" }));
      var font = cellInput(i, "font_size", isQr(f) ? "" : f.font_size,
        { min: data.min_font, max: data.max_font, "aria-label": "pt" });
      if (isQr(f)) { font.firstChild.disabled = true; }
      tr.appendChild(font);
      var boldTd = document.createElement("td");
      var bold = document.createElement("input");
      bold.type = "checkbox";
      bold.checked = f.bold;
      bold.disabled = isQr(f);
      bold.dataset.index = i;
      bold.dataset.prop = "bold";
      bold.setAttribute("aria-label", S.bold);
      boldTd.appendChild(bold);
      tr.appendChild(boldTd);
      var rm = document.createElement("td");
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "link";
      btn.textContent = S.remove;
      btn.dataset.remove = i;
      btn.setAttribute("data-testid", "remove-field-" + i);
      rm.appendChild(btn);
      tr.appendChild(rm);
      rows.appendChild(tr);
      var problem = errors["custom_fields[" + i + "]"];
      if (problem) {
        var er = document.createElement("tr");
        er.className = "row-error";
        var td = document.createElement("td");
        td.colSpan = 8;
        var msg = document.createElement("span");
        msg.className = "field-error";
        msg.setAttribute("data-testid", "field-error-custom_fields[" + i + "]");
        msg.textContent = problem.join(" ");
        td.appendChild(msg);
        er.appendChild(td);
        rows.appendChild(er);
      }
    });
  }

  function syncRow(i) {
    var f = fields[i];
    rows.querySelectorAll("input[data-index='" + i + "']").forEach(function (input) {
      if (input === document.activeElement) { return; }
      var prop = input.dataset.prop;
      if (prop === "bold") { input.checked = f.bold; } else if (!(prop === "font_size" && isQr(f))) { input.value = f[prop]; }
    });
  }

  function render() {
    renderBoxes();
    renderRows();
    sync();
  }

  function sync() { hidden.value = JSON.stringify(fields); }

  function select(i) {
    selected = i;
    overlay.querySelectorAll(".designer-field").forEach(function (el) {
      el.classList.toggle("selected", +el.dataset.index === i);
    });
    rows.querySelectorAll("tr[data-index]").forEach(function (tr) {
      tr.classList.toggle("selected", +tr.dataset.index === i);
    });
  }

  function boxEl(i) { return overlay.querySelector(".designer-field[data-index='" + i + "']"); }

  // --- state and status ---------------------------------------------------------------------

  function setStatus(text, kind) {
    status.textContent = text || "";
    status.dataset.kind = kind || "";
  }

  function changed() {
    form.dataset.dirty = "1";
    sync();
    setStatus(S.dirty, "dirty");
    schedulePreview();
  }

  // --- the preview --------------------------------------------------------------------------

  function showPreview(url, seq) {
    img.dataset.state = "loading";
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) {
        return r.json().then(function (body) { throw body; }, function () { throw {}; });
      }
      return r.blob();
    }).then(function (blob) {
      if (seq !== previewSeq) { return; }
      var old = blobUrl;
      blobUrl = URL.createObjectURL(blob);
      img.onload = function () {
        img.dataset.state = "ready";
        img.dataset.version = String(seq);
        if (old) { URL.revokeObjectURL(old); }
      };
      img.src = blobUrl;
    }).catch(function (body) {
      if (seq !== previewSeq) { return; }
      img.dataset.state = "failed";
      var detail = body && body.detail ? Object.keys(body.detail).map(function (k) {
        return fieldName(k) + [].concat(body.detail[k]).join(" ");
      }).join(" ") : "";
      setStatus(S.preview_failed + (detail ? " " + detail : ""), "error");
    });
  }

  function draftUrl() {
    var q = new URLSearchParams();
    q.set("fields", JSON.stringify(fields));
    q.set("free_text", form.elements.free_text.value);
    q.set("watermark", form.elements.watermark.value);
    return previewBase + "?" + q.toString();
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    if (!fields.every(valid)) { return; }
    previewTimer = setTimeout(function () {
      previewSeq += 1;
      showPreview(draftUrl(), previewSeq);
    }, 250);
  }

  // --- errors -------------------------------------------------------------------------------

  // a refused field by its label (never its key), then the label separator
  function fieldName(key) {
    var name = (S.field_names || {})[key.replace(/\[\d+\]$/, "")];
    return name ? name + S.label_separator : "";
  }

  function clearErrors() {
    errors = {};
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    var page = document.getElementById("page-error");
    if (page) { page.innerHTML = ""; }
  }

  function showErrors(body, quiet) {
    errors = {};
    var other = [];
    Object.keys(body.detail || {}).forEach(function (name) {
      var problems = [].concat(body.detail[name]);
      if (/^custom_fields\[\d+\]$/.test(name)) { errors[name] = problems; return; }
      var holder = form.querySelector("[data-error-for='" + name + "']");
      if (holder) { holder.textContent = problems.join(" "); } else { other.push(fieldName(name) + problems.join(" ")); }
    });
    renderBoxes();
    renderRows();
    if (quiet) { return; }
    var page = document.getElementById("page-error");
    if (page) {
      var div = document.createElement("div");
      div.className = "alert alert-error";
      div.setAttribute("role", "alert");
      div.dataset.errorCode = body.code || "";
      var strong = document.createElement("strong");
      strong.textContent = body.message || S.failed;
      div.appendChild(strong);
      if (other.length) {
        var small = document.createElement("small");
        small.className = "code";
        small.textContent = other.join("; ");
        div.appendChild(small);
      }
      page.innerHTML = "";
      page.appendChild(div);
    }
  }

  // --- mouse: move and resize ---------------------------------------------------------------

  overlay.addEventListener("pointerdown", function (e) {
    var el = e.target.closest(".designer-field");
    if (!el || e.button !== 0) { return; }
    var i = +el.dataset.index;
    select(i);
    drag = {
      i: i, el: el, id: e.pointerId, x0: e.clientX, y0: e.clientY,
      start: Object.assign({}, fields[i]),
      mode: e.target.classList.contains("designer-handle") ? "resize" : "move",
      moved: false
    };
    el.setPointerCapture(e.pointerId);
    el.classList.add("dragging");
    e.preventDefault();
  });

  overlay.addEventListener("pointermove", function (e) {
    if (!drag || e.pointerId !== drag.id) { return; }
    var dx = (e.clientX - drag.x0) / scale, dy = (e.clientY - drag.y0) / scale;
    var f = fields[drag.i], s0 = drag.start;
    if (drag.mode === "move") {
      f.x = clamp(snap(s0.x + dx), 0, floorSnap(boxW - f.w));
      f.y = clamp(snap(s0.y + dy), 0, floorSnap(boxH - f.h));
    } else if (isQr(f)) {
      var side = snap(s0.w + Math.max(dx, dy));
      side = clamp(side, MIN_SIZE, Math.min(floorSnap(boxW - f.x), floorSnap(boxH - f.y)));
      f.w = f.h = side;
    } else {
      f.w = clamp(snap(s0.w + dx), MIN_SIZE, floorSnap(boxW - f.x));
      f.h = clamp(snap(s0.h + dy), MIN_SIZE, floorSnap(boxH - f.y));
    }
    drag.moved = drag.moved || f.x !== s0.x || f.y !== s0.y || f.w !== s0.w || f.h !== s0.h;
    place(drag.el, f);
    syncRow(drag.i);
  });

  function endDrag(e) {
    if (!drag || e.pointerId !== drag.id) { return; }
    drag.el.classList.remove("dragging");
    if (drag.el.hasPointerCapture(e.pointerId)) { drag.el.releasePointerCapture(e.pointerId); }
    var moved = drag.moved;
    drag = null;
    if (moved) { changed(); }
  }
  overlay.addEventListener("pointerup", endDrag);
  overlay.addEventListener("pointercancel", endDrag);

  // keyboard: arrows move the selected field by 0.5 mm, with Shift they resize it
  overlay.addEventListener("keydown", function (e) {
    var el = e.target.closest(".designer-field");
    var dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (!el || !dirs[e.key]) { return; }
    var i = +el.dataset.index, f = fields[i], d = dirs[e.key];
    select(i);
    if (e.shiftKey) {
      f.w = clamp(snap(f.w + d[0] * snapStep), MIN_SIZE, floorSnap(boxW - f.x));
      f.h = clamp(snap(f.h + d[1] * snapStep), MIN_SIZE, floorSnap(boxH - f.y));
      if (isQr(f)) { f.h = f.w = e.key === "ArrowUp" || e.key === "ArrowDown" ? f.h : f.w; }
    } else {
      f.x = clamp(snap(f.x + d[0] * snapStep), 0, floorSnap(boxW - f.w));
      f.y = clamp(snap(f.y + d[1] * snapStep), 0, floorSnap(boxH - f.h));
    }
    place(el, f);
    syncRow(i);
    changed();
    e.preventDefault();
  });

  overlay.addEventListener("focusin", function (e) {
    var el = e.target.closest(".designer-field");
    if (el) { select(+el.dataset.index); }
  });

  // --- the table ----------------------------------------------------------------------------

  rows.addEventListener("input", function (e) {
    var input = e.target;
    var i = +input.dataset.index, prop = input.dataset.prop;
    if (!prop || !fields[i]) { return; }
    if (prop === "bold") {
      fields[i].bold = input.checked;
    } else {
      var v = parseFloat(input.value);
      if (!isFinite(v)) { return; }
      fields[i][prop] = v;
      if (isQr(fields[i]) && (prop === "w" || prop === "h")) { fields[i].w = fields[i].h = v; }
    }
    var el = boxEl(i);
    if (el) { place(el, fields[i]); }
    changed();
  });

  rows.addEventListener("change", function (e) {
    var input = e.target, i = +input.dataset.index, prop = input.dataset.prop;
    if (!fields[i] || !prop || prop === "bold") { return; }
    var before = JSON.stringify(fields[i]);
    fit(fields[i]);
    var el = boxEl(i);
    if (el) { place(el, fields[i]); }
    syncRow(i);
    if (!(prop === "font_size" && isQr(fields[i]))) { input.value = fields[i][prop]; }
    if (JSON.stringify(fields[i]) !== before) { changed(); } else { sync(); }
  });

  rows.addEventListener("focusin", function (e) {
    var tr = e.target.closest("tr[data-index]");
    if (tr) { select(+tr.dataset.index); }
  });

  rows.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-remove]");
    if (!btn) { return; }
    fields.splice(+btn.dataset.remove, 1);
    errors = {};
    selected = -1;
    render();
    changed();
  });

  addBtn.addEventListener("click", function () {
    var key = addKey.value;
    var f = key === "qr_code"
      ? { key: key, x: 0, y: 0, w: Math.min(15, boxW, boxH), h: Math.min(15, boxW, boxH), font_size: 0, bold: false }
      : { key: key, x: 0, y: 0, w: Math.min(40, boxW), h: Math.min(5, boxH), font_size: 9, bold: false };
    // below the lowest field, if there is room
    var bottom = fields.reduce(function (m, g) { return Math.max(m, g.y + g.h); }, 0);
    if (bottom + f.h <= boxH) { f.y = snap(Math.ceil(bottom / snapStep) * snapStep); }
    fields.push(fit(f));
    selected = fields.length - 1;
    errors = {};
    render();
    changed();
  });

  ["free_text", "watermark"].forEach(function (name) {
    form.elements[name].addEventListener("input", changed);
  });
  ["grayscale", "privacy"].forEach(function (name) {
    form.elements[name][1].addEventListener("change", function () {
      form.dataset.dirty = "1";
      setStatus(S.dirty, "dirty");
    });
  });

  // leaving with unsaved changes (a link, reload, closing the tab) asks first, with the
  // browser's own dialog; once saved it does not
  window.addEventListener("beforeunload", function (e) {
    if (form.dataset.dirty !== "1") { return; }
    e.preventDefault();
    e.returnValue = "";
  });

  // --- save ---------------------------------------------------------------------------------

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    sync();
    clearErrors();
    renderBoxes();
    renderRows();
    setStatus(S.saving, "busy");
    form.dataset.saving = "1";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Requested-With": "fetch" }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      form.dataset.saving = "";
      if (!res.ok) {
        showErrors(res.body);
        setStatus(S.failed, "error");
        return;
      }
      var t = res.body.template;
      fields = sanitize(t.custom_fields);
      form.elements.free_text.value = t.free_text;
      form.elements.watermark.value = t.watermark;
      form.dataset.dirty = "";
      form.dataset.savedAt = t.updated_at;
      render();
      setStatus(res.body.message || S.saved, "ok");
      clearTimeout(previewTimer);
      previewSeq += 1;
      showPreview(res.body.preview_url, previewSeq);
    }).catch(function () {
      form.dataset.saving = "";
      setStatus(S.failed, "error");
    });
  });

  render();
  if (Object.keys(errors).length) { showErrors({ detail: errors }, true); }
  img.dataset.state = img.complete ? "ready" : "loading";
  img.addEventListener("load", function () { if (img.dataset.state === "loading" && !blobUrl) { img.dataset.state = "ready"; } }, { once: true });
  form.dataset.ready = "1";
})();
