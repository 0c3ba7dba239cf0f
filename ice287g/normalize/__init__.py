"""Raw workbook values -> clean fields: the rules as data (``rules``) and how they apply."""
