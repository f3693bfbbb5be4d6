"""The HTML pages, rendered with Jinja2 from ``web/templates/``, one module per kind of page:
``chrome`` (what every page shares: language, links, the frame), ``reading`` (reading a description:
labels, values, facts), ``resource`` (a resource's page), ``landing`` (the landing page) and
``ontology`` (the ontology's documentation)."""
