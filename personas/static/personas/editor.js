// The persona editor's conveniences; the page works without them (Preview is a
// submit button). A static file, so the Content-Security-Policy needs no nonce.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var editor = document.getElementById("id_rule");
  if (!editor) {
    return;
  }
  // "Use" next to an example puts it in the rule box, ready to preview.
  document.querySelectorAll("button[data-example]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var example = document.getElementById(button.getAttribute("data-example"));
      if (example) {
        editor.value = example.textContent;
        editor.focus();
      }
    });
  });
});
