// 智能粘贴 on the receiver form: the pasted text is split by the server (the division list
// lives there) and the fields it found are filled; every field stays editable. Without
// JavaScript the 识别 button posts the form and the page comes back filled.
document.addEventListener("DOMContentLoaded", function () {
  var paste = document.getElementById("receiver-paste");
  var form = document.getElementById("receiver-form");
  if (!paste || !form) { return; }
  var text = paste.querySelector("textarea[name=paste]");
  var note = paste.querySelector("[data-testid=smart-paste-note]");
  var csrf = paste.querySelector("input[name=csrfmiddlewaretoken]").value;

  function recognise() {
    var body = new FormData();
    body.append("text", text.value);
    return fetch(paste.dataset.parseUrl, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
      credentials: "same-origin",
    }).then(function (r) { return r.json(); }).then(function (data) {
      Object.keys(data.fields).forEach(function (name) {
        var input = form.querySelector("input[name='" + name + "']");
        if (input) {
          input.value = data.fields[name];
          input.dispatchEvent(new Event("input", { bubbles: true }));
        }
      });
      var first = (data.missing || []).map(function (name) {
        return form.querySelector("input[name='" + name + "']");
      }).filter(function (input) { return input && !input.value; })[0];
      if (first) { first.focus(); }
      note.textContent = data.note;
      paste.dataset.parsed = "1";
    });
  }

  paste.addEventListener("submit", function (evt) {
    evt.preventDefault();
    recognise();
  });
  text.addEventListener("paste", function () {
    setTimeout(recognise, 0);  // after the pasted text is in the box
  });
});
