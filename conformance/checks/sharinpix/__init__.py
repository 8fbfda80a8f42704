"""sharinpix behaviour (SPX-01..05, ALL-04, ALL-05). The API has one operation,
POST /api/v1/albums/{album_id}/images/, with a bracket-nested form body. There is no list, get or delete:
every check sends a fresh, unique Cloudinary public_id and judges the 200 body it gets back; nothing
assumes an empty album (and "nothing is stored" after a refusal cannot be observed from outside).

The setup request is the seed's example body, every field of it (27 colour pairs and all), with only
``cloudinary[public_id]`` made unique. Generated data stays within what the seed's example shows: every
number fits a signed 32-bit integer, as the seed's largest (version 1484586860) does. Wider numbers (up
to the mock's 18 digits) are our decision, judged at SHOULD by a check of their own.

The seed names no status for a refused token: any 4xx is the MUST; 401 without a token and 403 for a
token that does not grant the album are the mock's (SHOULD).
"""
