"""Numbers published by the papers and by CompressAI, printed beside ours in tables and plots."""

# Preprint Table 4 column order and headers, with our edit names.
TABLE4_COLUMNS = (("crop", "Crop"), ("blur", "G.Blur"), ("median", "M.Filter"), ("sharpen", "Sharp"),
                  ("lighten", "Light"), ("equalize", "H.Equ."), ("affine", "Affine"), ("jpeg", "JPEG"))
# Kodak rows of preprint Table 4: (x,x̂1), (x̂1,x̂2), then the edits in TABLE4_COLUMNS order (dB).
PAPER_TABLE4 = {
    "Balle2018 + LPIPS (q8)": (39.74, 5.68, 7.20, 6.62, 5.75, 5.89, 5.75, 5.22, 6.54, 8.69),
    "Cheng2020 + LPIPS": (39.53, 5.79, 5.85, 7.41, 6.81, 6.99, 7.17, 5.83, 6.42, 8.19),
}
# Preprint Table 3, Balle2018 q8 on Kodak, (x,x̂1) / (x̂1,x̂2) in dB; MSE ≈ a vanilla codec.
PAPER_TABLE3 = {"LPIPS": (39.74, 5.68), "DISTS": (39.81, 5.11), "GMSD": (39.74, 8.42), "MSE": (40.70, 47.87)}
# CompressAI's published Kodak curves for the official MSE weights (bpp, PSNR-RGB), q1..q8.
PUBLISHED_RD = {
    "bmshj2018-hyperprior": ((0.131, 0.209, 0.320, 0.478, 0.669, 0.939, 1.259, 1.660),
                             (27.58, 29.20, 30.97, 32.84, 34.53, 36.74, 38.58, 40.56)),
    "mbt2018-mean": ((0.124, 0.198, 0.307, 0.461, 0.662, 0.914, 1.234, 1.619),
                     (27.70, 29.36, 31.13, 32.95, 34.97, 36.91, 38.84, 40.63)),
    "cheng2020-anchor": ((0.120, 0.184, 0.271, 0.417, 0.595, 0.806), (28.58, 29.97, 31.34, 33.39, 35.12, 36.70)),
}
