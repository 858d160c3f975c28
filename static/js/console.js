// Refusals come back as an error fragment: show it in place, next to what caused it,
// instead of htmx's default of ignoring error responses. Every 4xx and 5xx: a carrier
// gateway's refusal is a 503 (failure) or a 504 (timeout), a server in trouble a 503.
document.addEventListener("htmx:beforeSwap", function (evt) {
  var status = evt.detail.xhr.status;
  if (status < 400) return;
  evt.detail.shouldSwap = true;
  evt.detail.isError = false;
  var source = evt.detail.elt;
  var holder = source && source.closest ? source.closest("[data-error-target]") : null;
  var target = holder ? holder.querySelector(".inline-error") : null;
  if (holder && !target) {
    target = document.createElement("div");
    target.className = "inline-error";
    holder.appendChild(target);
  }
  evt.detail.target = target || document.getElementById("page-error");
  evt.detail.swapOverride = "innerHTML";
});

// Order list: tick the page, or every order matching the filters (across pages).
document.addEventListener("DOMContentLoaded", function () {
  var pageBox = document.getElementById("check-page");
  var allBtn = document.getElementById("select-all-matching");
  var allField = document.getElementById("all-matching");
  if (pageBox) {
    pageBox.addEventListener("change", function () {
      document.querySelectorAll(".row-check").forEach(function (c) { c.checked = pageBox.checked; });
      if (!pageBox.checked && allField) { allField.value = "0"; }
    });
  }
  if (allBtn && allField) {
    allBtn.addEventListener("click", function () {
      allField.value = allField.value === "1" ? "0" : "1";
      var on = allField.value === "1";
      document.querySelectorAll(".row-check").forEach(function (c) { c.checked = on; });
      if (pageBox) { pageBox.checked = on; }
      allBtn.classList.toggle("active", on);
      document.getElementById("selection-info").dataset.all = on ? "1" : "0";
    });
  }
  // Region pickers: province → city → district from the division list.
  document.querySelectorAll("[data-region-picker]").forEach(function (box) {
    var url = box.dataset.url;
    var selects = [1, 2, 3].map(function (l) { return box.querySelector("select[data-level='" + l + "']"); });
    function fill(level, code) {
      var sel = selects[level - 1];
      sel.innerHTML = "<option value=''>—</option>";
      if (!code) { return Promise.resolve(); }
      return fetch(url + "?code=" + code).then(function (r) { return r.json(); }).then(function (data) {
        data.regions.forEach(function (r) {
          var o = document.createElement("option");
          o.value = r.name; o.textContent = r.name; o.dataset.code = r.code;
          if (r.name === sel.dataset.current) { o.selected = true; }
          sel.appendChild(o);
        });
      });
    }
    function code(sel) { var o = sel.options[sel.selectedIndex]; return o ? o.dataset.code : ""; }
    selects[0].addEventListener("change", function () { fill(2, code(selects[0])).then(function () { fill(3, code(selects[1])); }); });
    selects[1].addEventListener("change", function () { fill(3, code(selects[1])); });
    fill(2, code(selects[0])).then(function () { return fill(3, code(selects[1])); });
  });
  // Countdowns tick every minute.
  setInterval(function () {
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = Math.round((new Date(el.dataset.deadline) - new Date()) / 60000);
      var h = Math.floor(Math.abs(left) / 60), m = Math.abs(left) % 60;
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("at-risk", left >= 0 && left < 720);
      el.textContent = (left < 0 ? "-" : "") + h + "h " + m + "m";
    });
  }, 60000);
});

// Phones: the navigation folds behind the 菜单 button (base.html; CSS shows it at ≤ 768 px).
(function () {
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("sidenav");
  if (!toggle || !nav) return;
  function show(open) {
    nav.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  toggle.addEventListener("click", function () { show(!nav.classList.contains("open")); });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape" && nav.classList.contains("open")) { show(false); toggle.focus(); }
  });
})();
