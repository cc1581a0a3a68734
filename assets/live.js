// The engine's suggestion while the assessment form is being filled in. The form works
// without this script; with it, every answer sends the answers given so far (nothing else)
// to the server, which scores them with the same engine and returns a fragment for the
// form's status region. Nothing is stored. The region is in the page from the start (empty
// and without a frame), so screen readers announce its first content too.
(function () {
  "use strict";
  var form = document.querySelector("form[data-suggest]");
  var region = document.getElementById("live-suggestion");
  if (!form || !region || !window.fetch) {
    return;
  }
  var token = form.querySelector("input[name=csrf_token]");
  var pending = null;
  var sent = 0;

  function refresh() {
    var body = new URLSearchParams();
    body.append("csrf_token", token ? token.value : "");
    var answered = form.querySelectorAll(".options input[type=radio]:checked");
    if (answered.length === 0) {
      return;
    }
    answered.forEach(function (input) {
      body.append(input.name, input.value);
    });
    var mine = ++sent;
    fetch(form.dataset.suggest, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    })
      .then(function (res) {
        return res.ok ? res.text() : null;
      })
      .then(function (html) {
        // Only the answer to the newest request, and never an error page.
        if (html !== null && mine === sent) {
          region.innerHTML = html;
        }
      })
      .catch(function () {});
  }

  form.addEventListener("change", function (event) {
    if (!event.target.closest(".options")) {
      return;
    }
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  });
  refresh();
})();
