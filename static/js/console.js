// Refusals (400/403/404/409/422/429) come back as an error fragment: show it in place,
// next to what caused it, instead of htmx's default of ignoring error responses.
document.addEventListener("htmx:beforeSwap", function (evt) {
  var status = evt.detail.xhr.status;
  if ([400, 403, 404, 409, 422, 429].indexOf(status) === -1) return;
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
