// The engine's suggestion while the assessment form is being filled in. The form works
// without this script; with it, every answer sends the answers given so far (nothing else)
// to the server, which scores them with the same engine and returns a fragment for the
// form's status region. Nothing is stored by that request. The region is in the page from
// the start (empty and without a frame), so screen readers announce its first content too.
//
// The script also saves the form as a draft a moment after each change (the same draft the
// "Gem kladde" button saves, under the form's submission key), and, while the user is active
// on the page, asks the server every few minutes to keep the session alive.
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

  var saved = document.getElementById("autosave-status");
  var saving = null;

  function autosave() {
    var body = new URLSearchParams(new FormData(form));
    body.set("action", "autosave");
    fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    })
      .then(function (res) {
        if (res.status === 204 && saved) {
          var at = new Date();
          var hh = ("0" + at.getHours()).slice(-2);
          var mm = ("0" + at.getMinutes()).slice(-2);
          saved.textContent = saved.dataset.saved + " " + hh + ":" + mm;
        }
      })
      .catch(function () {});
  }

  var submitted = false;
  form.addEventListener("input", function () {
    clearTimeout(saving);
    if (!submitted) {
      saving = setTimeout(autosave, 2000);
    }
  });
  form.addEventListener("submit", function () {
    submitted = true;
    clearTimeout(saving);
  });

  var active = false;
  ["keydown", "pointerdown", "input"].forEach(function (name) {
    document.addEventListener(name, function () {
      active = true;
    }, { passive: true });
  });
  setInterval(function () {
    if (!active) {
      return;
    }
    active = false;
    fetch("/session/alive", {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": token ? token.value : "" }
    }).catch(function () {});
  }, 4 * 60 * 1000);

  // An item asked only on an earlier answer is hidden until that answer is given (without
  // the script it is shown with its condition in words; the server ignores its answer when the
  // condition does not hold).
  var conditional = form.querySelectorAll("fieldset[data-show-if]");
  function showConditional() {
    // Until nothing changes: a condition may rest on an item that is itself conditional.
    var changed = true;
    while (changed) {
      changed = false;
      conditional.forEach(function (item) {
        var on = form.querySelector("input[name='" + item.dataset.showIf + "']");
        var earlier = form.querySelector("input[name='" + item.dataset.showIf + "']:checked");
        var parent = on ? on.closest("fieldset[data-show-if]") : null;
        var shown = earlier !== null &&
          item.dataset.showValues.split(" ").indexOf(earlier.value) >= 0 &&
          !(parent && parent.hidden);
        if (item.hidden === shown) {
          item.hidden = !shown;
          changed = true;
        }
      });
    }
  }
  showConditional();

  form.addEventListener("change", function (event) {
    if (!event.target.closest(".options")) {
      return;
    }
    showConditional();
    clearTimeout(pending);
    pending = setTimeout(refresh, 150);
  });
  refresh();
})();
