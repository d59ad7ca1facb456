"""Link: probabilistic record linkage (Fellegi-Sunter) on pseudonyms, one step per module, as ``engine.link``
runs them: ``model`` (fields, levels, rules), ``encoding``, ``blocking``, ``comparison``, ``estimate_u``,
``expectation_maximisation``, ``weights``, ``predict``, ``clustering``; ``csv_files`` for the ``link`` command;
``sources`` applies it to the arrears, social-team and SDD records in the warehouse.
"""
