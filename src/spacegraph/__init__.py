"""spacegraph: a CNES press release of July 2016, modelled as RDF, validated and published."""

__version__ = "1.0.0"
