"""Link: the record-linkage engine on pseudonyms (``engine``) and its application to the sources (``sources``)."""
