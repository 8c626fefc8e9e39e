"""The user's session, shared by framework routes (``request.session``) and the App
(``tag.session``): the cookie, the stores, the middleware. Runs in the server's workers;
the user processes load only ``values`` (the dict-like session the App sees)."""
