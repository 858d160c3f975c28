// 取号并打印 and 打印 / 重打 (printing/views/order_print.py): a form, or a submit button,
// marked data-print is sent with fetch instead of as a page. A PDF answer is saved as a
// download; an HX-Redirect answer is followed; any other answer (what was done, the reprint
// confirmation, a refusal) is shown in the nearest [data-print-notice] after the block it
// belongs to ([data-refresh]: its URL) is reloaded. On the order list the rows are reloaded
// in place, keeping the ticks. Without JavaScript the same forms post as pages.
(function () {
  "use strict";

  function fileName(response, fallback) {
    var header = response.headers.get("Content-Disposition") || "";
    var match = /filename="?([^";]+)"?/.exec(header);
    return match ? match[1] : fallback;
  }

  function download(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.style.display = "none";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(url); link.remove(); }, 10000);
  }

  // The order list's rows again (same URL: filters, page), each tick kept as it was.
  function refreshRows() {
    var rows = document.getElementById("order-rows");
    if (!rows || !window.htmx) { return Promise.resolve(); }
    var ticks = {};
    rows.querySelectorAll(".row-check").forEach(function (c) { ticks[c.value] = c.checked; });
    return htmx.ajax("GET", window.location.href, {
      target: "#order-rows", select: "#order-rows", swap: "outerHTML",
    }).then(function () {
      document.querySelectorAll("#order-rows .row-check").forEach(function (c) {
        if (Object.prototype.hasOwnProperty.call(ticks, c.value)) { c.checked = ticks[c.value]; }
      });
    });
  }
  window.wbcRefreshOrderRows = refreshRows;

  // Reload the block the form belongs to, then show the answer in its notice area.
  function reloadAndTell(scope, html) {
    var reloaded = Promise.resolve();
    if (scope && scope.dataset.refresh && window.htmx) {
      var id = scope.id;
      reloaded = htmx.ajax("GET", scope.dataset.refresh, { target: "#" + id, swap: "outerHTML" })
        .then(function () { return document.getElementById(id); });
    } else {
      reloaded = refreshRows().then(function () { return scope; });
    }
    return reloaded.then(function (fresh) {
      if (!html) { return; }
      var notice = (fresh || document).querySelector("[data-print-notice]");
      if (!notice) { return; }
      notice.innerHTML = html;
      if (window.htmx) { htmx.process(notice); }
      var focus = notice.querySelector("[autofocus]");
      if (focus) { focus.focus(); }
    });
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var button = evt.submitter;
    var marked = (button && button.hasAttribute("data-print")) || form.hasAttribute("data-print");
    if (!marked) { return; }
    // before htmx's own handler on the form (a 取号 form posts elsewhere)
    evt.preventDefault();
    evt.stopPropagation();
    var action = (button && button.getAttribute("formaction")) || form.getAttribute("action");
    var body = new FormData(form);
    if (button && button.name) { body.append(button.name, button.value); }
    var scope = form.closest("[data-refresh]") || (button && button.closest("[data-refresh]"));
    if (!scope && form.id) {
      var owner = document.querySelector("[form='" + form.id + "']");
      scope = owner ? owner.closest("[data-refresh]") : null;
    }
    var busy = button || form.querySelector("[type=submit]");
    if (busy) { busy.disabled = true; busy.setAttribute("aria-busy", "true"); }
    fetch(action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      if (redirect) { window.location.href = redirect; return null; }
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/pdf") === 0) {
        return response.blob().then(function (blob) {
          download(blob, fileName(response, "labels.pdf"));
          return reloadAndTell(scope, "");
        });
      }
      return response.text().then(function (html) { return reloadAndTell(scope, html); });
    }).catch(function () {
      window.alert(document.documentElement.lang.indexOf("zh") === 0
        ? "网络错误，请重试。" : "Network error: try again.");
    }).finally(function () {
      if (busy && busy.isConnected) { busy.disabled = false; busy.removeAttribute("aria-busy"); }
    });
  }, true);

  // A reprint confirmation's "back": clear the notice.
  document.addEventListener("click", function (evt) {
    var back = evt.target.closest && evt.target.closest("[data-dismiss-notice]");
    if (!back) { return; }
    var notice = back.closest("[data-print-notice]");
    if (notice) { notice.innerHTML = ""; }
  });

  // A batch job ended (its progress marks it): the order list's rows again, in place.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var marks = document.querySelectorAll("[data-refresh-rows]");
    if (!marks.length) { return; }
    marks.forEach(function (m) { m.removeAttribute("data-refresh-rows"); });
    refreshRows();
  });
})();
