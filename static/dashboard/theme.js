// Applies the saved colour theme before the page paints, so it never flashes.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("tk-theme"); } catch (e) {}
  if (saved === "light" || saved === "dark") {
    document.documentElement.setAttribute("data-theme", saved);
  }
})();
