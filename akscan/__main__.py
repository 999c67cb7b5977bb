from akscan.cli import main

raise SystemExit(main())
