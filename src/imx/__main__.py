from imx.cli.main import main

main()
