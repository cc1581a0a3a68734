// The print view's "Udskriv" button opens the browser's print dialogue. Without this script
// the button stays hidden and the browser's own print command (Ctrl+P) prints the same page.
(function () {
  "use strict";
  var button = document.getElementById("print-now");
  if (!button || !window.print) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
})();
